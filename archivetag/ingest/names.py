"""Display form of paths, which are carried as bytes because names need not be UTF-8."""

import unicodedata

# Bidirectional overrides can make a name read differently from what it is.
_BIDI_CONTROLS = frozenset(
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


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
