"""The query language of `search`, `export --query` and the web page (README.md, "Searching").

    QUERY := GROUP*                      groups must all hold (AND)
    GROUP := TERM ("OR" TERM)*           OR in capitals joins neighbouring terms
    TERM  := ["-"] (PHRASE | FIELD | WORD)   "-" negates the term
    PHRASE:= "…"                         the words in a row
    FIELD := NAME ":" (VALUE | "…")      NAME one of FIELDS, in any case; no value: refused
    WORD  := anything else               `Side A:`, `Bach:` and URLs too: unknown names are text

Words and phrases are what the search ranks by; a phrase must also match as written (keyword
and hybrid modes); `-word`, `-"phrase"` and every field become filter nodes
(archivetag/index/filters.py). Fields: `tag:dog` (normalised like ingest's tags), `path:DIR`
(the file or a folder; relative to the current directory), `type:audio|video`,
`duration:1m..2m` and `since:7d` (units as archivetag/units.py reads them), `status:missing`.
Files missing since the last scan are left out unless the query names a `status:`.
A refusal is a QueryError whose one-line message names the part; nothing else is raised.
Pure functions: nothing here touches the database.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from archivetag import units
from archivetag.errors import UsageError
from archivetag.index import filters as f
from archivetag.storage import FILE_STATUSES
from archivetag.storage.search_text import tokens
from archivetag.vocabulary import normalise_tag

MAX_QUERY_CHARS = 1000
MEDIA_TYPES = ("audio", "video")
_TOKEN = re.compile(r'(?P<neg>-)?(?:"(?P<phrase>[^"]*)"'
                    r'|(?P<name>[A-Za-z]+):(?:"(?P<quoted>[^"]*)"|(?P<value>\S*))'
                    r"|(?P<word>\S+))")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class QueryError(UsageError):
    """A query that cannot be understood; the message says which part and why."""


@dataclass(frozen=True)
class ParsedQuery:
    text: str  # the words and phrases to rank by ("" when only filters were given)
    phrases: tuple[str, ...] = ()  # phrases every result must hold
    filters: f.And = field(default_factory=f.And)


def _text(value: str, what: str) -> str:
    if _SURROGATE.search(value):
        shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise QueryError(f"{what} '{shown}' holds bytes that are not UTF-8 text")
    return value


def parse_tag(value: str, what: str = "tag:") -> f.Node:
    tag = normalise_tag(_text(value, what))
    if not tag:
        raise QueryError(f"{what} needs a tag name")
    return f.HasTag(tag)


def parse_path(value: str, what: str = "path:") -> f.Node:
    if not value:
        raise QueryError(f"{what} needs a file or folder")
    return f.UnderPath(os.fsencode(os.path.abspath(os.path.expanduser(value))))


def parse_type(value: str, what: str = "type:") -> f.Node:
    if value.lower() not in MEDIA_TYPES:
        raise QueryError(f"{what} must be audio or video, not {_shown(value)!r}")
    return f.MediaType(value.lower())


def parse_status(value: str, what: str = "status:") -> f.Node:
    if value.lower() not in FILE_STATUSES:
        raise QueryError(f"{what} must be one of {', '.join(FILE_STATUSES)}, "
                         f"not {_shown(value)!r}")
    return f.Status(value.lower())


def parse_duration(value: str, what: str = "duration:") -> f.Node:
    try:
        return f.Duration(*units.seconds_range(_shown(value), what))
    except UsageError as error:
        raise QueryError(str(error)) from None


def parse_since(value: str, what: str = "since:") -> f.Node:
    try:
        return f.Since(units.moment(_shown(value), what))
    except UsageError as error:
        raise QueryError(str(error)) from None


FIELDS: dict[str, Callable[[str], f.Node]] = {
    "tag": parse_tag, "path": parse_path, "type": parse_type, "duration": parse_duration,
    "since": parse_since, "status": parse_status}


def _shown(value: str) -> str:
    """`value` printable in a message (bytes that are not UTF-8 as \\xNN)."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class _Term:
    rank: str = ""  # text to rank by
    node: f.Node | None = None  # what it requires, as a filter
    phrase: bool = False


def _term(token: re.Match) -> _Term:
    negated = token["neg"] is not None
    if token["name"] is not None and token["name"].lower() in FIELDS:
        value = token["quoted"] if token["quoted"] is not None else token["value"]
        node = FIELDS[token["name"].lower()](value)
        return _Term(node=f.Not(node) if negated else node)
    if token["phrase"] is not None:
        phrase = " ".join(_text(token["phrase"], "the phrase").split())
        if not phrase:
            return _Term()
        if negated:
            return _Term(node=f.Not(f.Words(tokens(phrase))))
        return _Term(rank=phrase, node=f.Words(tokens(phrase)), phrase=True)
    word = _text(token[0][1:] if negated else token[0], "the word")
    if negated and tokens(word):
        return _Term(node=f.Not(f.Words(tokens(word))))
    return _Term(rank=token[0])  # a lone "-", or a negated emoji: kept as written


def _groups(raw: str) -> list[list[_Term]]:
    groups: list[list[_Term]] = []
    joining = False
    for token in _TOKEN.finditer(raw):
        if token[0] == "OR" and groups and not joining:
            joining = True
            continue
        term = _term(token)
        if joining:
            groups[-1].append(term)
        else:
            groups.append([term])
        joining = False
    if joining:  # a trailing OR is a word
        groups.append([_Term(rank="OR")])
    return groups


def parse_query(raw: str, flags: tuple[f.Node, ...] = (),
                include_missing: bool = False) -> ParsedQuery:
    """The query `raw` and the filter flags of the command (`flags`, all required) as one
    ParsedQuery; QueryError when malformed or empty. Missing files are left out unless
    `include_missing` or a `status:` term says otherwise."""
    if len(raw) > MAX_QUERY_CHARS:
        raise QueryError(f"the query is {len(raw)} characters long; at most {MAX_QUERY_CHARS}")
    raw = _CONTROL.sub(" ", raw)
    if raw.count('"') % 2:  # an unbalanced quote is taken as a plain character
        raw = raw[::-1].replace('"', " ", 1)[::-1]
    ranked, phrases, nodes = [], [], list(flags)
    for group in _groups(raw):
        ranked += [term.rank for term in group if term.rank]
        if len(group) == 1:
            term = group[0]
            phrases += [term.rank] if term.phrase else []
            nodes += [term.node] if term.node and not term.phrase else []
        elif any(term.node for term in group):
            nodes.append(f.Or(tuple(term.node or f.Words(tokens(term.rank)) for term in group)))
    if not ranked and not nodes:
        raise QueryError("the query is empty: give words to search for, or filters")
    text = _text(" ".join(ranked), "the query")
    filters = f.And(tuple(nodes))
    if not include_missing and not f.mentions(filters, f.Status):
        filters = f.And((*nodes, f.PRESENT))
    return ParsedQuery(text=text, phrases=tuple(phrases), filters=filters)
