"""The annotation record, as `export` writes it and `annotations import` reads it (JSONL, CSV;
the cues of a WebVTT or SubRip file, with the media file they belong to, give the same records).

A record is `path`, `path_base64`, `start`, `end`, `caption`, `tags`, `source`:
- `path` is the display form of the media path (archivetag/vocabulary.py: one line, bytes
  that are not UTF-8 as `\\xNN`); `path_base64` is the path's bytes in base64, written only
  when the display form cannot be turned back into the path (a name that is not UTF-8, or holds
  a newline or another control character). On import `path_base64`, when given, is the path,
  and `path` must then be its display form; otherwise `path` is the path, as UTF-8.
- `start` and `end` are seconds of playback: a number, or a string of seconds or a timecode
  `HH:MM:SS(.mmm)` (a comma before the milliseconds is read too, as SubRip writes it).
- `tags` is a list of strings or one `"a; b"` string; `caption` or `tags` is required;
  `source` defaults to the import's own.
In CSV every value is a string and an empty one means "not given". Bad lines come back as
`BadLine` with their number (a CSV record's first line) and why, never as an exception.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from archivetag.vocabulary import display_path
from archivetag.storage import SCAN
from archivetag.storage.clean_text import storable_text

FIELDS = ("path", "path_base64", "start", "end", "caption", "tags", "source")
REQUIRED = ("path", "start", "end")
TIMECODE = re.compile(r"(\d+):([0-5]\d):([0-5]\d(?:[.,]\d+)?)")


class FileFormatError(ValueError):
    """The file as a whole cannot be read (a CSV without the needed header)."""


@dataclass(frozen=True)
class AnnotationLine:
    number: int  # line in the file, from 1
    path: bytes
    start_s: float
    end_s: float
    caption: str | None
    tags: tuple[str, ...]  # as written
    source: str


@dataclass(frozen=True)
class BadLine:
    number: int
    reason: str


def path_fields(path: bytes) -> tuple[str, str | None]:
    """(`path`, `path_base64`) of a stored path: the display form, and the bytes in base64
    when the display form does not give them back."""
    shown = display_path(path)
    lossless = shown.encode("utf-8", "surrogateescape") == path
    return shown, None if lossless else base64.b64encode(path).decode("ascii")


def _path(record: dict) -> bytes:
    shown, encoded = record.get("path"), record.get("path_base64")
    if not isinstance(shown, str) or not shown:
        raise ValueError("'path' must be a non-empty string")
    if encoded is None:
        path = os.fsencode(shown)
    else:
        try:
            path = base64.b64decode(encoded, validate=True) if isinstance(encoded, str) else b""
        except binascii.Error:
            path = b""
        if not path:
            raise ValueError("'path_base64' must be the path's bytes in base64")
        if display_path(path) != shown:
            raise ValueError(f"'path' ({shown!r}) is not the display form of 'path_base64' "
                             f"({display_path(path)!r}); give the one you mean")
    if b"\0" in path or not path.startswith(b"/"):
        raise ValueError(f"'path' must be an absolute path, got {shown!r}")
    return path


def seconds(value, key: str) -> float:
    """`value` (a number, or a string of seconds or `HH:MM:SS(.mmm)`) in seconds, >= 0."""
    if isinstance(value, str):
        text = value.strip()
        timecode = TIMECODE.fullmatch(text)
        if timecode:
            hours, minutes, secs = timecode.groups()
            value = int(hours) * 3600 + int(minutes) * 60 + float(secs.replace(",", "."))
        else:
            try:
                value = float(text)
            except ValueError:
                raise ValueError(f"'{key}' must be seconds or HH:MM:SS(.mmm), got {value!r}") \
                    from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"'{key}' must be seconds or HH:MM:SS(.mmm), got {value!r}")
    if value < 0:
        raise ValueError(f"'{key}' must not be negative, got {value!r}")
    return float(value)


def _tags(value) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(";")
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ValueError("'tags' must be a list of strings or one ';'-separated string")
    return tuple(tag.strip() for tag in value if tag.strip())


def parse_record(number: int, record: dict, default_source: str) -> AnnotationLine:
    """One record (absent values left out or None), checked; ValueError says what is wrong."""
    unknown = sorted(set(record) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)} (known: {', '.join(FIELDS)})")
    path = _path(record)
    start, end = seconds(record.get("start"), "start"), seconds(record.get("end"), "end")
    if end < start:
        raise ValueError(f"'end' ({end:g}) is before 'start' ({start:g})")
    caption = record.get("caption")
    if caption is not None and not isinstance(caption, str):
        raise ValueError("'caption' must be a string")
    caption = caption.strip() if caption else None
    tags = _tags(record.get("tags"))
    if not caption and not tags:
        raise ValueError("a line needs a 'caption' or 'tags'")
    source = record.get("source")
    source = default_source if source is None else source
    # As stored (without control characters), so that the same source finds its segments.
    source = storable_text(source).strip() if isinstance(source, str) else ""
    if not source or source == SCAN:
        raise ValueError("'source' must be a name other than 'scan'")
    return AnnotationLine(number, path, start, end, caption, tags, source)


def _jsonl(handle, default_source: str) -> Iterator[AnnotationLine | BadLine]:
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            yield BadLine(number, "not UTF-8 text")
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text)
        except json.JSONDecodeError as error:
            yield BadLine(number, f"not JSON ({error.msg})")
            continue
        if not isinstance(record, dict):
            yield BadLine(number, "not a JSON object")
            continue
        try:
            yield parse_record(number, record, default_source)
        except ValueError as error:
            yield BadLine(number, str(error))


def _utf8(values: list[str]) -> bool:
    try:
        "".join(values).encode("utf-8")
    except UnicodeEncodeError:  # bytes that were not UTF-8, kept as surrogates
        return False
    return True


def _csv(handle, default_source: str) -> Iterator[AnnotationLine | BadLine]:
    rows = csv.reader(io.TextIOWrapper(handle, encoding="utf-8", errors="surrogateescape",
                                       newline=""))
    try:
        header = next(rows, None)
    except csv.Error as error:
        raise FileFormatError(f"line 1: {error}") from None
    if (header is None or not _utf8(header) or not set(REQUIRED) <= set(header)
            or len(set(header)) != len(header)):
        raise FileFormatError(f"the CSV's first line must name its columns, among them "
                              f"{', '.join(REQUIRED)} (known: {', '.join(FIELDS)})")
    number = rows.line_num + 1
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error as error:
            raise FileFormatError(f"line {number}: {error}") from None
        first, number = number, rows.line_num + 1
        if not any(value.strip() for value in row):
            continue
        if not _utf8(row):
            yield BadLine(first, "not UTF-8 text")
        elif len(row) != len(header):
            yield BadLine(first, f"{len(row)} values for {len(header)} columns")
        else:
            record = {key: value for key, value in zip(header, row) if value != ""}
            try:
                yield parse_record(first, record, default_source)
            except ValueError as error:
                yield BadLine(first, str(error))


TAG_LINE = re.compile(r"\[(.*)\]")


def _subtitles(handle, file_format: str, media: bytes,
               default_source: str) -> Iterator[AnnotationLine | BadLine]:
    """The cues of a WebVTT or SubRip file as records of `media`; numbers are the lines of
    the cues' timings. A last line `[a, b]` is the tags (as sidecars.py writes them)."""
    import html

    from webvtt import from_buffer
    from webvtt.errors import MalformedCaptionError, MalformedFileError

    try:
        text = handle.read().decode("utf-8-sig")
        captions = from_buffer(io.StringIO(text), format=file_format,
                               strict=file_format == "vtt").captions
    except UnicodeDecodeError:
        raise FileFormatError("not UTF-8 text") from None
    except (MalformedFileError, MalformedCaptionError) as error:
        raise FileFormatError(f"not a {file_format} file the parser accepts ({error})") from None
    timings = [n for n, line in enumerate(text.split("\n"), start=1) if "-->" in line]
    shown, encoded = path_fields(media)
    for number, caption in zip(timings, captions):
        lines = caption.text.split("\n")
        if file_format == "vtt":  # WebVTT's escapes; SubRip has none
            lines = [html.unescape(line) for line in lines]
        tags = TAG_LINE.fullmatch(lines[-1].strip())
        if tags:
            lines.pop()
        record = {"path": shown, "path_base64": encoded, "start": caption.start,
                  "end": caption.end, "caption": " ".join(lines).strip() or None,
                  "tags": tags.group(1).split(", ") if tags else None}
        try:
            yield parse_record(number, {k: v for k, v in record.items() if v is not None},
                               default_source)
        except ValueError as error:
            yield BadLine(number, str(error))


def file_format_of(path: Path) -> str:
    """jsonl, csv, vtt or srt, from the name's ending (jsonl unless .csv, .vtt or .srt)."""
    suffix = path.suffix.lower().lstrip(".")
    return suffix if suffix in ("csv", "vtt", "srt") else "jsonl"


def read_lines(path: Path, default_source: str, file_format: str | None = None,
               media: bytes | None = None) -> Iterator[AnnotationLine | BadLine]:
    """The file's records in order, each parsed or rejected; blank lines are skipped.

    `file_format` is "jsonl", "csv", "vtt" or "srt" (default: `file_format_of(path)`); the cues
    of a vtt/srt file belong to the media file at `media`. Raises FileFormatError when the file
    as a whole cannot be read (not text at all, a CSV without its header, a subtitle file
    that does not parse, a subtitle file without `media`).
    """
    file_format = file_format or file_format_of(path)
    if file_format in ("vtt", "srt") and media is None:
        raise FileFormatError(f"the cues of a {file_format} file need the media file they "
                              "belong to (--media)")
    with open(path, "rb") as handle:
        if b"\0" in handle.peek(4096)[:4096]:  # text holds no NUL; media and archives do
            raise FileFormatError("not a text file (annotations are JSON Lines, CSV, WebVTT "
                                  "or SRT)")
        if file_format in ("vtt", "srt"):
            yield from _subtitles(handle, file_format, media, default_source)
        else:
            yield from (_csv if file_format == "csv" else _jsonl)(handle, default_source)
