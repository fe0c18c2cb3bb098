"""The file page's timeline geometry (a pure function over `show --json` segments)."""

from archivetag.serve import timeline


def segment(start, end, tags=(), rms_db=-20.0, silent=False):
    return {"start": start, "end": end, "tags": list(tags), "rms_db": rms_db, "silent": silent}


def test_rows_are_the_frequent_tags_placed_by_time_with_loudness_and_silence():
    segments = [segment(0, 10, ["speech"]), segment(10, 20, ["speech", "dog"]),
                segment(20, 30, rms_db=-90.0, silent=True), segment(30, 40, ["dog"], rms_db=0.0)]
    drawn = timeline.build(segments, duration=40.0)
    assert [row.tag for row in drawn.rows] in (["speech", "dog"], ["dog", "speech"])
    scale = (timeline.WIDTH - timeline.LABEL) / 40.0
    dog = next(row for row in drawn.rows if row.tag == "dog")
    assert [(bar.x, bar.width, bar.start) for bar in dog.bars] == [
        (round(timeline.LABEL + 10 * scale, 2), round(10 * scale, 2), 10),
        (round(timeline.LABEL + 30 * scale, 2), round(10 * scale, 2), 30)]
    speech = next(row for row in drawn.rows if row.tag == "speech")
    assert [(bar.start, bar.width) for bar in speech.bars] == [(0, round(20 * scale, 2))]  # one bar
    assert [bar.start for bar in drawn.silences] == [20]
    heights = {bar.start: bar.height for bar in drawn.loudness}
    assert set(heights) == {0, 10, 30}  # the silent segment has no loudness bar
    assert heights[30] == timeline.LOUDNESS and heights[0] < heights[30]
    assert drawn.loudness_path.count("M") == 3
    assert drawn.ticks[0][1] == "00:00:00" and drawn.ticks[-1][1] == "00:00:40"


def test_an_unknown_duration_spans_the_segments_and_long_names_are_cut():
    name = "a tag name far longer than any label should be"
    drawn = timeline.build([segment(5, 25, [name])], duration=None)
    assert drawn.duration == 25
    assert drawn.rows[0].label.endswith("…") and len(drawn.rows[0].label) == timeline.LABEL_CHARS
    assert drawn.rows[0].tag == name
