"""Timed-text sidecars (WebVTT, SubRip) of exported records, one file per media file.

The documents are written by webvtt-py, which checks that no text can end a cue early. Cue
text is the caption, then the tags in brackets, each on one line (line breaks and runs of
spaces become one space, control characters are dropped). WebVTT escapes `&`, `<` and `>` as
its spec says (`&amp;`, `&lt;`, `&gt;`), so players show `<b>` or `-->` as written; SubRip has
no escapes and players read `<…>` as markup (ffmpeg drops an unknown `<x>`), so there `<` and
`>` are written as `‹` and `›`. Times are milliseconds, rounded.

Where the files go:
- beside the media (`beside=True`): `NAME.vtt` next to `NAME.mp3`, what players look for; a
  second media file of the same NAME in that folder gets its full name (`NAME.wav.vtt`). An
  existing file is not overwritten unless `force`.
- under an output folder: `OUT/<root name>/<path relative to the root>.vtt`, the root being
  the longest ingested root (the `roots` table) that holds the file. A root's folder is its
  last path component; when several roots share it, each gets its id appended
  (`archive-1`, `archive-2`), so two roots holding the same relative path never collide.
  Files under no root (imported only) go to `OUT/_unrooted/<absolute path>`.
"""

from __future__ import annotations

import html
import io
import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from archivetag.index.annotation_export import ExportRecord
from archivetag.vocabulary import display_path
from archivetag.storage.clean_text import storable_text
from archivetag.storage.schema import Root

UNROOTED = "_unrooted"
_SUBRIP_BRACKETS = str.maketrans({"<": "\u2039", ">": "\u203a"})


@dataclass(frozen=True)
class SidecarReport:
    written: int
    refused: tuple[str, ...]  # one line per sidecar not written: its path and why


def cue_text(record: ExportRecord, extension: str) -> str:
    """The text of one cue in `extension`'s syntax (see the module's docstring)."""
    lines = [record.caption] if record.caption else []
    if record.tags:
        lines.append("[" + ", ".join(record.tags) + "]")
    text = "\n".join(" ".join(storable_text(line).split()) for line in lines)
    if extension == "vtt":
        return html.escape(text, quote=False)
    return text.translate(_SUBRIP_BRACKETS)


def document(records: Iterable[ExportRecord], extension: str) -> str:
    """A whole VTT or SRT document of these records, cues in time order."""
    from webvtt import Caption, WebVTT
    from webvtt.models import Timestamp

    captions = [Caption(str(Timestamp.from_seconds(r.start_s)),
                        str(Timestamp.from_seconds(r.end_s)), cue_text(r, extension))
                for r in sorted(records, key=lambda r: (r.start_s, r.end_s))]
    if extension == "vtt":
        return WebVTT(captions=captions).content
    out = io.StringIO()
    WebVTT(captions=captions).write(out, format="srt")
    return out.getvalue() + "\n"


def root_folders(session: Session) -> list[tuple[bytes, str]]:
    """(root path, its folder under OUT) for every ingested root, longest path first."""
    roots = session.execute(select(Root.id, Root.path)).all()
    names = {id_: os.fsdecode(os.path.basename(path.rstrip(b"/"))) for id_, path in roots}
    shared = Counter(names.values())
    folders = [(path, names[id_] if names[id_] and shared[names[id_]] == 1
                and names[id_] != UNROOTED else f"{names[id_] or 'root'}-{id_}")
               for id_, path in roots]
    return sorted(folders, key=lambda item: len(item[0]), reverse=True)


def _parts(path: bytes) -> list[str]:
    parts = [p for p in os.fsdecode(path).split("/") if p not in ("", ".")]
    return ["_" if p == ".." else p for p in parts]


def under_out(out: Path, media: bytes, roots: list[tuple[bytes, str]], extension: str) -> Path:
    """Where `media`'s sidecar goes under `out` (see the module's docstring)."""
    for root, folder in roots:
        if media.startswith(root.rstrip(b"/") + b"/"):
            parts = [folder, *_parts(media[len(root.rstrip(b"/")):])]
            break
    else:
        parts = [UNROOTED, *_parts(media)]
    return out.joinpath(*parts[:-1], f"{parts[-1]}.{extension}")


def beside(media: bytes, extension: str, taken: set[Path]) -> Path:
    """`NAME.ext` next to the media file, or `NAME.mp3.ext` when `NAME.ext` is taken."""
    path = Path(os.fsdecode(media))
    target = path.with_name(f"{path.stem}.{extension}")
    return path.with_name(f"{path.name}.{extension}") if target in taken else target


def write_sidecars(records: Iterable[ExportRecord], extension: str, *, out: Path | None = None,
                   roots: list[tuple[bytes, str]] = (), force: bool = False) -> SidecarReport:
    """One sidecar per media file (records arrive grouped by file): under `out`, or beside
    the media when `out` is None. Files that cannot be written are reported, not raised."""
    written: set[Path] = set()
    refused: list[str] = []
    for media, group in groupby(records, key=lambda r: r.path):
        target = under_out(out, media, roots, extension) if out else beside(media, extension,
                                                                            written)
        shown = display_path(os.fsencode(target))
        if out is None and not target.parent.is_dir():  # never make folders in the archive
            refused.append(f"{shown}: no such folder (the media file is not on disk)")
            continue
        if out is None and not force and target.exists():
            refused.append(f"{shown}: exists (--force overwrites it)")
            continue
        temporary = target.with_name(f".{target.name}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            temporary.write_text(document(group, extension), encoding="utf-8")
            os.replace(temporary, target)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            refused.append(f"{shown}: {error.strerror or error}")
            continue
        written.add(target)
    return SidecarReport(len(written), tuple(refused))
