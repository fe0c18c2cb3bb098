"""The one normaliser of keyword search: indexed text and queries become the same tokens.

    text -> NFKC -> case folding -> accents stripped -> tokens joined by single spaces

Tokens are runs of letters and digits (with their combining marks); `_` and everything else
separates them. Scripts written without spaces (Chinese, Japanese, Korean, Thai, Lao, Khmer,
Myanmar) become every character and every pair of neighbours, interleaved (`院子里` ->
`院 院子 子 子里 里`), so a word of any length is found and a phrase is still a run of
tokens. Accents are stripped from Latin, Greek, Cyrillic, Hebrew and Arabic letters only
(café = cafe, Straße = strasse by case folding); marks that are part of a letter elsewhere
(Thai vowels, Devanagari signs, Japanese voicing) stay. `annotations.search_text` holds this
form of `annotations.text`, filled by the column's default on every insert; SQLite FTS5
(tokenizer `porter ascii`) and PostgreSQL (configuration `archivetag_search`, `simple` with
English stemming of ASCII words) index that column (migration 0005), so both databases see
the same tokens. Changing what this returns needs a migration that refills the column.
"""

from __future__ import annotations

import unicodedata

# Scripts written without spaces between words: code point ranges, inclusive.
UNSPACED = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1100, 0x11FF),  # Hangul Jamo
    (0x1780, 0x17FF),  # Khmer
    (0x2E80, 0x2FDF),  # CJK radicals
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3100, 0x31FF),  # Bopomofo, Hangul compatibility Jamo, Katakana extensions
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xA960, 0xA97F),  # Hangul Jamo extended A
    (0xAC00, 0xD7FF),  # Hangul syllables, Jamo extended B
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x3FFFF),  # CJK extensions B onwards
)
ACCENTED_BELOW = 0x0700  # marks on letters below this (Latin .. Arabic) are accents


def _unspaced(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in UNSPACED)


def _strip_accents(text: str) -> str:
    kept, base = [], 0
    for char in unicodedata.normalize("NFD", text):
        if unicodedata.category(char) == "Mn":
            if base < ACCENTED_BELOW:
                continue
        else:
            base = ord(char)
        kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def _clusters(text: str) -> list[tuple[str, bool]]:
    """Letters and digits with their marks, each with whether its script is unspaced;
    ("", False) where a separator stands."""
    clusters: list[tuple[str, bool]] = []
    for char in text:
        if unicodedata.category(char)[0] == "M" and clusters and clusters[-1][0]:
            clusters[-1] = (clusters[-1][0] + char, clusters[-1][1])
        elif char.isalnum() and char != "_":
            clusters.append((char, _unspaced(char)))
        elif clusters and clusters[-1][0]:
            clusters.append(("", False))
    return clusters


def tokens(text: str) -> tuple[str, ...]:
    """The keyword tokens of `text`, in order (see the module's docstring)."""
    out: list[str] = []
    word: list[str] = []
    run: list[str] = []
    for cluster, unspaced in [*_clusters(_strip_accents(unicodedata.normalize(
            "NFKC", text).casefold())), ("", False)]:
        if word and (unspaced or not cluster):
            out.append("".join(word))
            word = []
        if run and not unspaced:
            for i, char in enumerate(run):
                out += [char, char + run[i + 1]] if i + 1 < len(run) else [char]
            run = []
        if unspaced:
            run.append(cluster)
        elif cluster:
            word.append(cluster)
    return tuple(out)


def search_text(text: str | None) -> str | None:
    """`text` as the full-text index holds it: its tokens joined by single spaces."""
    return None if text is None else " ".join(tokens(text))
