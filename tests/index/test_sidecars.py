"""VTT/SRT sidecars: text players show as written, every cue read by ffmpeg and by a second
parser, files beside the media or under OUT/<root name>/."""

from __future__ import annotations

import html
import json
import os
import subprocess
from pathlib import Path

import pysubs2
from sqlalchemy import select

from archivetag.index.annotation_export import ExportRecord, all_records
from archivetag.index.sidecars import document, root_folders, write_sidecars
from archivetag.storage.schema import Root

NASTY = [
    "<b>bold</b> & <x> --> arrow",
    "Footsteps\n\nthen silence",  # a blank line would end the cue
    "NUL\x00 bell\x07 escape\x1b[31m next\x85line",
    "{\\an8} braces & &amp; entity",
]


def _records(count: int) -> list[ExportRecord]:
    return [ExportRecord(b"/a.wav", "/a.wav", float(n), n + 0.5, NASTY[n % len(NASTY)],
                         ("<x>", "A & B") if n % 2 else (), "notes") for n in range(count)]


def _ffmpeg_texts(path: Path) -> list[str]:
    """The text of every cue as ffmpeg reads it (converted to ASS)."""
    ass = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "ass", "-"],
                         capture_output=True, check=True, text=True).stdout
    return [line.split(",", 9)[9] for line in ass.splitlines() if line.startswith("Dialogue:")]


def test_markup_arrows_and_control_characters_reach_players_as_text(tmp_path: Path) -> None:
    records = _records(60)
    for extension in ("vtt", "srt"):
        file = tmp_path / f"a.{extension}"
        file.write_text(document(records, extension), encoding="utf-8")
        texts = _ffmpeg_texts(file)
        assert len(texts) == len(records)
        parsed = pysubs2.SSAFile.from_string(file.read_text(encoding="utf-8"), format_=extension)
        assert [(e.start, e.end) for e in parsed] == [(n * 1000, n * 1000 + 500) for n in range(60)]
        assert all(ord(c) >= 0x20 or c == "\n" for c in file.read_text(encoding="utf-8"))
        first, blank, controls, braces = texts[:4]
        assert "{\\b1}" not in first and "NUL bell escape[31m nextline" in controls
        assert blank.startswith("Footsteps then silence\\N[")
        if extension == "vtt":  # ffmpeg decodes WebVTT's escapes
            assert first == "<b>bold</b> & <x> --> arrow"
            assert texts[1] == "Footsteps then silence\\N[<x>, A & B]"
            assert "& &amp; entity" in braces
            assert html.unescape(parsed[0].plaintext) == "<b>bold</b> & <x> --> arrow"
        else:  # SubRip has no escapes: the brackets are made inert
            assert first == "\u2039b\u203abold\u2039/b\u203a & \u2039x\u203a --\u203a arrow"
            assert texts[1].endswith("\\N[\u2039x\u203a, A & B]")


def test_beside_writes_name_vtt_next_to_the_media_and_keeps_what_is_there(
        cli, tmp_path: Path) -> None:
    media = tmp_path / "archive"
    media.mkdir()
    for name in ("take.mp3", "take.wav", "other.flac"):
        (media / name).write_bytes(b"")
    lines = tmp_path / "notes.csv"
    lines.write_text("path,start,end,caption\n" + "".join(
        f"{media / name},0,1,{name} <b>\n" for name in ("take.mp3", "take.wav", "other.flac")),
        encoding="utf-8")
    assert cli("annotations", "import", str(lines)).exit_code == 0  # on disk: no flag needed

    first = cli("export", "--format", "vtt", "--beside")
    assert first.exit_code == 0 and "wrote 3 vtt files beside the media" in first.stdout
    # take.mp3 comes first (by path) and gets take.vtt; take.wav then keeps its full name
    assert sorted(p.name for p in media.glob("*.vtt")) == ["other.vtt", "take.vtt",
                                                          "take.wav.vtt"]
    assert "take.wav" in (media / "take.wav.vtt").read_text(encoding="utf-8")
    assert "other.flac &lt;b&gt;" in (media / "other.vtt").read_text(encoding="utf-8")

    (media / "other.vtt").write_text("mine", encoding="utf-8")
    again = cli("export", "--format", "vtt", "--beside")
    assert again.exit_code == 3 and "exists (--force overwrites it)" in again.stderr
    assert (media / "other.vtt").read_text(encoding="utf-8") == "mine"
    forced = cli("export", "--format", "vtt", "--beside", "--force")
    assert forced.exit_code == 0 and (media / "other.vtt").read_text().startswith("WEBVTT")
    gone = tmp_path / "gone" / "tape.wav"  # catalogued, not on disk: no folder is made
    notes = tmp_path / "gone.jsonl"
    notes.write_text(f'{{"path": "{gone}", "start": 0, "end": 1, "caption": "x"}}\n')
    cli("annotations", "import", str(notes), "--allow-unknown")
    missing = cli("export", "--format", "vtt", "--beside", "--force")
    assert missing.exit_code == 3 and "tape.vtt: no such folder" in missing.stderr
    assert not gone.parent.exists()
    back = cli("annotations", "import", str(media / "other.vtt"), "--media",
               str(media / "other.flac"), "--json")
    assert (back.exit_code, json.loads(back.stdout)["replaced"]) == (0, 1), back.stderr

    for args in (("--format", "srt", "--beside", "--out", str(tmp_path)),
                 ("--format", "srt", "--force", "--out", str(tmp_path)),
                 ("--format", "csv", "--beside"),
                 ("--format", "srt", "--out", str(media / "other.vtt"))):  # a file
        misuse = cli("export", *args)
        assert misuse.exit_code == 2 and misuse.stderr.count("\n") == 1, args


def test_out_holds_one_folder_per_root_and_same_names_do_not_collide(catalogue,
                                                                     tmp_path: Path) -> None:
    roots = [b"/mnt/a/archive", b"/mnt/b/archive", b"/srv/radio"]
    with catalogue.database.sessions() as session:
        session.add_all(Root(path=root, display_path=os.fsdecode(root)) for root in roots)
        session.commit()
    catalogue.load([{"path": f"{os.fsdecode(root)}/2019/take 1.wav", "start": 0, "end": 1,
                     "caption": "a take"} for root in roots])
    with catalogue.database.sessions() as session:
        folders = root_folders(session)
        report = write_sidecars(all_records(session), "srt", out=tmp_path / "out", roots=folders)
        ids = dict(session.execute(select(Root.path, Root.id)).all())
    out = tmp_path / "out"
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*.srt"))
    assert report.written == len(written) == 6  # the fixture's three files are under no root
    assert {f"archive-{ids[b'/mnt/a/archive']}/2019/take 1.wav.srt",
            f"archive-{ids[b'/mnt/b/archive']}/2019/take 1.wav.srt",
            "radio/2019/take 1.wav.srt", "_unrooted/tv/street.mkv.srt"} <= set(written)


def test_a_caption_that_reads_like_a_timing_stays_one_cue(tmp_path: Path) -> None:
    """ffmpeg reads it as text in both formats (pysubs2, which finds timings anywhere in a
    line, would not: it is left out of that check)."""
    timing = "00:00:01.000 --> 00:00:02.000"
    records = [ExportRecord(b"/a.wav", "/a.wav", n, n + 1.0, timing, (), "notes")
               for n in range(3)]
    for extension in ("vtt", "srt"):
        file = tmp_path / f"a.{extension}"
        file.write_text(document(records, extension), encoding="utf-8")
        assert len(_ffmpeg_texts(file)) == 3
