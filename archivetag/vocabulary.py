"""One vocabulary for names people read and search by: tags and display paths.

Ingest, annotation import and the query parser all store and look up tags through
`normalise_tag`, so `tag:"Dog barking"` finds what the model wrote as "Dog barking" and an
import adds no second row for a tag already known (README.md, "Searching"). Paths are
carried as bytes because names need not be UTF-8; `display_path` is their one-line form for
people.
"""

from __future__ import annotations

import unicodedata

from archivetag.storage.clean_text import storable_text

TAG_SYNONYMS = {
    "man speaking": "male speech, man speaking",
    "male speech": "male speech, man speaking",
    "woman speaking": "female speech, woman speaking",
    "female speech": "female speech, woman speaking",
    "child speaking": "child speech, kid speaking",
    "child speech": "child speech, kid speaking",
    "talking": "speech",
    "speaking": "speech",
    "dog barking": "bark",
    "barking": "bark",
    "automobile": "car",
    "rain on surface": "raindrop",
}
"""Common variants of AudioSet names, mapped to the AudioSet name (both case-folded)."""

# Bidirectional overrides can make a name read differently from what it is.
_BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def fold_tag(text: str) -> str:
    """`text` folded as tag names are: case-folded ("Straße" -> "strasse"), single spaces,
    no control characters. A pattern over tag names (`tags 'Straße*'`) is folded so, without
    the synonyms of `normalise_tag`, which map whole names only."""
    return " ".join(storable_text(text).casefold().split())


def normalise_tag(tag: str) -> str:
    """A tag as stored in `tags.name`: folded (`fold_tag`), the AudioSet name for a known
    synonym (TAG_SYNONYMS); "" when nothing is left."""
    text = fold_tag(tag)
    return TAG_SYNONYMS.get(text, text)


def _escape(char: str) -> str:
    if char in _NAMED:
        return _NAMED[char]
    if char in _BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Zl", "Zp"):
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return char


def display_path(path: bytes) -> str:
    """A one-line, printable form of ``path`` for people (not reversible).

    Bytes that are not UTF-8 show as ``\\xNN``, control characters as escapes,
    so a name with a newline cannot break a log line or a table.
    """
    text = path.decode("utf-8", errors="backslashreplace")
    return "".join(_escape(char) for char in text)
