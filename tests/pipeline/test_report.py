"""What a run says about the audio still to tag: nothing it cannot know yet."""

from __future__ import annotations

import io

from archivetag.pipeline.report import Reporter, RunCounts


def test_hours_to_tag_are_known_only_from_files_read() -> None:
    counts = RunCounts(bytes_to_tag=64_000_000)  # a WAV at 16 kHz mono: 2000 s
    assert counts.hours_to_tag_estimate() is None
    stream = io.StringIO()
    reporter = Reporter(quiet=False, log_path=None, interval_s=0.0, stream=stream)
    reporter.update(counts, files_to_tag=2, walking=True)
    assert "0.00 h audio" in stream.getvalue() and "of ~" not in stream.getvalue()

    counts.learn_rate(size=32_000_000, seconds=1000.0)  # the first file read gives the rate
    assert abs(counts.hours_to_tag_estimate() - 2000 / 3600) < 1e-9
    reporter.update(counts, files_to_tag=2, walking=False)
    assert "of ~0.56 h audio" in stream.getvalue().splitlines()[-1]


def test_a_partial_read_is_said_once() -> None:
    from archivetag.storage.reports import partial_line

    warnings = ["partial: decoded 3.0 of 6.0 s: it was cut short", "timeline rebuilt: …"]
    assert partial_line(warnings) == "decoded 3.0 of 6.0 s: it was cut short"  # the line
    assert partial_line([]) == "only part of the file could be read"  # says "partial:" itself
