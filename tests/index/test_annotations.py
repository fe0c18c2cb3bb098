"""Import and export of annotations: bad lines, re-imports, lossless paths, sidecars."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import func, select

from archivetag.index.annotation_export import (
    all_records,
    jsonl_line,
    srt_document,
    vtt_document,
    write_sidecars,
)
from archivetag.index.annotation_import import import_annotations
from archivetag.storage.schema import Annotation, MediaFile, Segment

ODD_PATH = b"/archive/caf\xe9 \xff\nnew line/take 1.wav"  # not UTF-8, with a newline


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_bad_lines_are_reported_and_good_lines_imported(catalogue, tmp_path: Path) -> None:
    good = json.dumps({"path": "/new/a.flac", "start": 1, "end": 2, "caption": "a gong"})
    bad_lines = [
        "{not json", "[1, 2]", json.dumps({"path": "/x", "start": -1, "end": 2, "caption": "c"}),
        json.dumps({"path": "/x", "start": 5, "end": 2, "caption": "c"}),
        json.dumps({"path": "/x", "start": 0, "end": 2}),
        json.dumps({"path": "", "start": 0, "end": 2, "caption": "c"}),
        json.dumps({"path": "/x", "start": 0, "end": 2, "caption": "c", "colour": "red"}),
        json.dumps({"path": "/x", "start": 0, "end": 2, "tags": [1, 2]}),
        json.dumps({"path": "/x", "start": 0, "end": 2, "caption": "c", "source": "scan"}),
    ]
    file = tmp_path / "mixed.jsonl"
    file.write_bytes(("\n".join([good, *bad_lines, "", good]) + "\n").encode() + b"\xff\xfe\n")
    with catalogue.database.sessions() as session:
        report = import_annotations(session, file, "notes")
        assert [b.number for b in report.bad] == [2, 3, 4, 5, 6, 7, 8, 9, 10, 13]
        assert report.imported == 2 and report.new_files == 1 and len(report.segment_ids) == 1
        media = session.scalars(select(MediaFile).where(MediaFile.path == b"/new/a.flac")).one()
        assert (media.status, media.media_type) == ("pending", "audio")


def test_reimport_replaces_texts_and_other_sources_stay(catalogue, lines) -> None:
    with catalogue.database.sessions() as session:
        before = (count(session, Segment), count(session, Annotation))
    catalogue.load([{**lines[0], "caption": "A puppy yaps", "tags": ["Dog"]}])
    catalogue.load([{**lines[0], "caption": "Barking"}], source="another tagger")
    with catalogue.database.sessions() as session:
        assert count(session, Segment) == before[0] + 1  # the other source's own segment
        captions = session.scalars(select(Annotation.text).where(
            Annotation.kind == "caption", Annotation.text.in_(
                ["A puppy yaps", "Barking", lines[0]["caption"]]))).all()
        assert sorted(captions) == ["A puppy yaps", "Barking"]
        assert session.scalar(select(func.count()).where(Annotation.imported.is_(False))) == 0


def test_export_round_trips_through_import(catalogue, catalogue_maker, tmp_path: Path) -> None:
    catalogue.load([{"path": os.fsdecode(ODD_PATH), "start": 0.5, "end": 2.25,
                     "caption": "Footsteps --> on gravel\n\nthen silence", "tags": ["Walk"]}])
    with catalogue.database.sessions() as session:
        exported = "".join(jsonl_line(r) for r in all_records(session))
    again = catalogue_maker(tmp_path / "other")
    copy = tmp_path / "export.jsonl"
    copy.write_text(exported, encoding="utf-8")
    with again.database.sessions() as session:
        report = import_annotations(session, copy, "unused")
        assert report.bad == () and report.imported == 6
        assert "".join(jsonl_line(r) for r in all_records(session)) == exported
        assert session.scalar(select(MediaFile.path).where(MediaFile.path == ODD_PATH))


def test_sidecars_hold_timed_cues_per_media_file(catalogue, tmp_path: Path) -> None:
    catalogue.load([{"path": os.fsdecode(ODD_PATH), "start": 3661.5, "end": 3662,
                     "caption": "Footsteps --> on gravel\n\nthen silence", "tags": ["Walk"]}])
    with catalogue.database.sessions() as session:
        records = list(all_records(session))
    out = tmp_path / "sidecars"
    assert write_sidecars(records, out, "vtt") == 4
    morning = (out / "radio" / "morning.mp3.vtt").read_text(encoding="utf-8")
    assert morning.startswith("WEBVTT\n\n00:00:00.000 --> 00:00:10.000\nA dog barks")
    assert "00:00:10.000 --> 00:00:20.000\nHeavy rain falls on a tin roof\n[Rain, Rain on surface]" \
        in morning
    odd = [r for r in records if r.path == ODD_PATH]
    cue = vtt_document(odd).split("\n\n")[1]
    assert cue == "01:01:01.500 --> 01:01:02.000\nFootsteps -> on gravel then silence\n[Walk]\n"
    assert srt_document(odd).startswith("1\n01:01:01,500 --> 01:01:02,000\nFootsteps --> on")
    assert (out / "archive" / os.fsdecode(b"caf\xe9 \xff\nnew line") / "take 1.wav.vtt").exists()
