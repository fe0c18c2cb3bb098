"""`annotations import`: every kind of rejected line with its number, unknown paths, cues
past a file's end, timecodes, re-imports, and what `export` writes (JSONL, CSV, VTT, SRT)
importing back unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, update

from archivetag.index.annotation_export import all_records, csv_header, csv_record, jsonl_line
from archivetag.index.annotation_import import import_annotations
from archivetag.index.sidecars import document
from archivetag.storage.schema import Annotation, MediaFile, Segment, SegmentTag

ODD_PATH = b"/archive/caf\xe9 \xff\nnew line/take 1.wav"  # not UTF-8, with a newline


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def write(path: Path, records: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records),
                    encoding="utf-8")
    return path


def test_every_bad_line_kind_is_rejected_with_its_number(catalogue, tmp_path: Path) -> None:
    good = {"path": "/radio/morning.mp3", "start": 1, "end": 2, "caption": "a gong"}
    bad = [
        "{not json", "[1, 2]",
        {**good, "start": -1},
        {**good, "start": 5},  # end before start
        {"path": "/radio/morning.mp3", "start": 0, "end": 2},  # neither caption nor tags
        {**good, "path": ""},
        {**good, "colour": "red"},
        {**good, "caption": None, "tags": [1, 2]},
        {**good, "source": "scan"},
        {**good, "path": "radio/morning.mp3"},  # relative
        {**good, "start": "1:75:00"},  # not a timecode
        {**good, "end": "soon"},
        {**good, "path_base64": "%%%"},
        {**good, "path_base64": "L290aGVyLm1wMw=="},  # /other.mp3: disagrees with 'path'
        {**good, "path": "/nowhere/new.flac"},  # neither catalogued nor on disk
        {**good, "path": "/radio2/evening.wav", "start": 3600, "end": 7200},  # past its end
    ]
    file = tmp_path / "mixed.jsonl"
    write(file, [good, *bad, "", good])
    file.write_bytes(file.read_bytes() + b"\xff\xfe\n")
    with catalogue.database.sessions() as session:
        session.execute(update(MediaFile).where(MediaFile.path == b"/radio2/evening.wav")
                        .values(duration=3610.0))
        session.commit()
        report = import_annotations(session, file, "notes")
        numbers = [b.number for b in report.rejected]
        assert numbers == [*range(2, 2 + len(bad)), 2 + len(bad) + 2]
        reasons = dict((b.number, b.reason) for b in report.rejected)
        assert "not JSON" in reasons[2] and "not UTF-8" in reasons[numbers[-1]]
        assert "'start' must be seconds or HH:MM:SS(.mmm)" in reasons[12]
        assert "is not the display form of 'path_base64'" in reasons[15]
        assert "/nowhere/new.flac is neither in the catalogue nor on disk" in reasons[16]
        assert "ends at 7200 s, past the end of /radio2/evening.wav (3610 s long)" in reasons[17]
        assert (report.added, report.replaced, report.new_files) == (1, 1, 0)
        assert not session.scalar(select(MediaFile.id).where(MediaFile.path == b"/nowhere/new.flac"))


def test_a_media_file_given_as_annotations_is_refused_whole(catalogue, tmp_path: Path) -> None:
    from archivetag.index.annotation_lines import FileFormatError

    sound = tmp_path / "take.wav"  # a PCM WAV: its header holds NUL bytes
    sound.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(2000))
    with catalogue.database.sessions() as session, pytest.raises(FileFormatError,
                                                                 match="not a text file"):
        import_annotations(session, sound, "notes")


def test_unknown_paths_need_allow_unknown_and_files_on_disk_do_not(catalogue,
                                                                  tmp_path: Path) -> None:
    on_disk = tmp_path / "media" / "interview.wav"
    on_disk.parent.mkdir()
    on_disk.write_bytes(b"")
    lines = write(tmp_path / "new.jsonl", [
        {"path": str(on_disk), "start": 0, "end": 5, "caption": "an interview"},
        {"path": "/tape/17.flac", "start": 0, "end": 5, "tags": ["Hiss"]}])
    with catalogue.database.sessions() as session:
        refused = import_annotations(session, lines, "notes")
        assert [(b.number, b.reason.split(" is ")[0]) for b in refused.rejected] == \
            [(2, "/tape/17.flac")]
        assert (refused.added, refused.new_files) == (1, 1)
        allowed = import_annotations(session, lines, "notes", allow_unknown=True)
        assert (allowed.added, allowed.replaced, allowed.new_files, allowed.rejected) == \
            (1, 1, 1, ())
        statuses = session.execute(select(MediaFile.path, MediaFile.status, MediaFile.media_type)
                                   .where(MediaFile.path.in_([os.fsencode(on_disk),
                                                              b"/tape/17.flac"]))).all()
        assert sorted(statuses) == sorted([(os.fsencode(on_disk), "pending", "audio"),
                                           (b"/tape/17.flac", "pending", "audio")])


def test_timecodes_and_seconds_give_the_same_times(catalogue, tmp_path: Path) -> None:
    lines = write(tmp_path / "timecodes.jsonl", [
        {"path": "/tv/street.mkv", "start": "00:00:05", "end": "00:01:01.250", "caption": "a"},
        {"path": "/tv/street.mkv", "start": "5", "end": 61.25, "caption": "b", "source": "x"},
        {"path": "/tv/street.mkv", "start": "01:01:01,500", "end": "100:00:00", "tags": "T"}])
    with catalogue.database.sessions() as session:
        report = import_annotations(session, lines, "timecodes")
        assert report.rejected == () and report.added == 3
        spans = session.execute(select(Segment.source, Segment.start_s, Segment.end_s)
                                .where(Segment.id.in_(report.segment_ids))).all()
        assert sorted(spans) == [("timecodes", 5.0, 61.25), ("timecodes", 3661.5, 360000.0),
                                 ("x", 5.0, 61.25)]


def test_reimport_replaces_texts_and_other_sources_stay(catalogue, lines) -> None:
    with catalogue.database.sessions() as session:
        before = (count(session, Segment), count(session, Annotation), count(session, SegmentTag))
    replaced = catalogue.load([{**lines[0], "caption": "A puppy yaps", "tags": ["Dog"]},
                               {**lines[1], "caption": None}])
    assert (replaced.added, replaced.replaced) == (0, 2)
    catalogue.load([{**lines[0], "caption": "Barking"}], source="another tagger")
    # a source with a control character is stored without it, and found again by it
    assert catalogue.load([{**lines[0], "caption": "Barking"}], source="another\x07 tagger") \
        .replaced == 1
    with catalogue.database.sessions() as session:
        assert count(session, Segment) == before[0] + 1  # the other source's own segment
        # a caption gone; the other source's caption and tags added
        assert count(session, Annotation) == before[1] - 1 + 2
        # Dog, Bark, Speech -> Dog; the other source's three
        assert count(session, SegmentTag) == before[2] - 2 + 3
        captions = session.scalars(select(Annotation.text).where(
            Annotation.kind == "caption", Annotation.text.in_(
                ["A puppy yaps", "Barking", lines[0]["caption"], lines[1]["caption"]]))).all()
        assert sorted(captions) == ["A puppy yaps", "Barking"]
        assert session.scalar(select(func.count()).where(Annotation.imported.is_(False))) == 0


def _export(session, form: str) -> str:
    if form == "jsonl":
        return "".join(jsonl_line(r) for r in all_records(session))
    return csv_header() + "".join(csv_record(r) for r in all_records(session))


def test_jsonl_and_csv_exports_import_back_unchanged(catalogue, catalogue_maker,
                                                    tmp_path: Path) -> None:
    catalogue.load([{"path": os.fsdecode(ODD_PATH), "start": 0.1, "end": 2.25,
                     "caption": "Footsteps --> on gravel\n\nthen, \"silence\"",
                     "tags": ["Walk", "Gravel"]},
                    {"path": "/radio/morning.mp3", "start": 1 / 3, "end": 20,
                     "caption": "A thirds of a second", "source": "precise"}])
    for form in ("jsonl", "csv"):
        with catalogue.database.sessions() as session:
            exported = _export(session, form)
        assert form == "jsonl" or "caf\\xe9 \\xff\\nnew line" in exported  # the display form
        copy = write(tmp_path / f"export.{form}", [exported.removesuffix("\n")])
        again = catalogue_maker(tmp_path / f"other-{form}")
        with again.database.sessions() as session:
            session.execute(delete(MediaFile))  # the same database: start it afresh
            session.commit()
            report = import_annotations(session, copy, "unused", allow_unknown=True)
            assert report.rejected == () and report.added == 7
            assert _export(session, form) == exported
            assert session.scalar(select(MediaFile.id).where(MediaFile.path == ODD_PATH))


def test_a_csv_record_over_several_lines_is_reported_by_its_first(catalogue,
                                                                 tmp_path: Path) -> None:
    file = tmp_path / "notes.csv"
    file.write_bytes(b'path,start,end,caption\n/tv/street.mkv,0,1,"two\nlines"\n'
                     b'/tv/street.mkv,0,x,"also\ntwo"\n\n/tv/street.mkv,1,2\n'
                     b'/tv/street.mkv,1,2,caf\xe9\n')
    with catalogue.database.sessions() as session:
        report = import_annotations(session, file, "notes")
        assert [(b.number, b.reason.split(",")[0]) for b in report.rejected] == [
            (4, "'end' must be seconds or HH:MM:SS(.mmm)"), (7, "3 values for 4 columns"),
            (8, "not UTF-8 text")]
        assert report.added == 1


def test_sidecar_timing_reads_back_as_stored(catalogue, tmp_path: Path) -> None:
    """The cue times of VTT/SRT, read by another parser and by the import's own timecode
    reader, are the stored times to the millisecond."""
    import pysubs2

    from archivetag.index.annotation_lines import seconds

    catalogue.load([{"path": os.fsdecode(ODD_PATH), "start": 3661.5004, "end": 3662.2496,
                     "caption": "x"}])
    with catalogue.database.sessions() as session:
        records = list(all_records(session))
    for extension in ("vtt", "srt"):
        for path in {r.path for r in records}:
            cues = sorted((r for r in records if r.path == path), key=lambda r: r.start_s)
            text = document(cues, extension)
            parsed = pysubs2.SSAFile.from_string(text, format_=extension)
            assert [(e.start, e.end) for e in parsed] == \
                [(round(r.start_s * 1000), round(r.end_s * 1000)) for r in cues]
            timings = [line.split(" --> ") for line in text.splitlines() if " --> " in line]
            assert [(seconds(a, "start"), seconds(b, "end")) for a, b in timings] == \
                [(round(r.start_s, 3), round(r.end_s, 3)) for r in cues]


def test_vtt_and_srt_sidecars_import_back_with_their_timing(catalogue, catalogue_maker,
                                                           tmp_path: Path) -> None:
    from archivetag.index.sidecars import write_sidecars

    catalogue.load([{"path": os.fsdecode(ODD_PATH), "start": 0.1, "end": 2.25,
                     "caption": "Footsteps --> on <gravel> & then silence", "tags": ["Walk"]}])
    with catalogue.database.sessions() as session:
        records = list(all_records(session))
    shape = sorted((r.path, r.start_s, r.end_s, r.caption, r.tags) for r in records)
    for extension in ("vtt", "srt"):
        out = tmp_path / extension
        write_sidecars(records, extension, out=out)
        again = catalogue_maker(tmp_path / f"again-{extension}")
        with again.database.sessions() as session:
            session.execute(delete(MediaFile))
            session.commit()
            for record in records:
                sidecar = next(out.rglob(f"{os.fsdecode(record.path).rsplit('/', 1)[1]}.*"))
                report = import_annotations(session, sidecar, "player", allow_unknown=True,
                                            media=record.path)
                assert report.rejected == ()
            back = sorted((r.path, r.start_s, r.end_s, r.caption, r.tags)
                          for r in all_records(session))
        if extension == "vtt":
            assert back == shape
        else:  # SubRip has no escapes: its brackets come back as written there
            assert [b[:3] for b in back] == [s[:3] for s in shape]
            assert ("Footsteps --\u203a on \u2039gravel\u203a & then silence", ("Walk",)) \
                in [b[3:] for b in back]
