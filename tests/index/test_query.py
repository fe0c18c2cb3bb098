"""The query language, table-driven: what each query means, and what is refused."""

from __future__ import annotations

import os
from datetime import datetime, timezone

import pytest

from archivetag.index.filters import (And, Duration, HasTag, MediaType, Not, Or, Since, Status,
                                      UnderPath, Words)
from archivetag.index.query import QueryError, parse_query

PRESENT = Not(Status("missing"))  # added unless the query names a status
HERE = os.fsencode(os.getcwd())

CASES = [
    ("dog barking", "dog barking", (), ()),
    ('"tin roof" rain', "tin roof rain", ("tin roof",), ()),
    ("dog tag:Dog tag:'bark'", "dog", (), (HasTag("dog"), HasTag("'bark'"))),
    ('tag:"Dog  Barking" x', "x", (), (HasTag("bark"),)),  # ingest's synonyms
    ("TAG:Straße", "", (), (HasTag("strasse"),)),
    ("path:/radio bells", "bells", (), (UnderPath(b"/radio"),)),
    ("path:archive/news", "", (), (UnderPath(HERE + b"/archive/news"),)),
    ("type:VIDEO cars", "cars", (), (MediaType("video"),)),
    ("duration:10..60 a", "a", (), (Duration(10.0, 60.0),)),
    ("duration:1m..2m a", "a", (), (Duration(60.0, 120.0),)),
    ("duration:..1:30 a", "a", (), (Duration(None, 90.0),)),
    ("duration:1h30m.. a", "a", (), (Duration(5400.0, None),)),
    ("since:2026-01-31 a", "a", (), (Since(datetime(2026, 1, 31, tzinfo=timezone.utc)),)),
    ('NEAR( * "unbalanced', 'NEAR( * unbalanced', (), ()),
    ("'; DROP TABLE segments; --", "'; DROP TABLE segments; --", (), ()),
    ("tag:dog", "", (), (HasTag("dog"),)),
    # any other word: is text
    ("Side A: interview", "Side A: interview", (), ()),
    ("Bach: Toccata", "Bach: Toccata", (), ()),
    ("Note: dog", "Note: dog", (), ()),
    ("https://example.org/a?b=c", "https://example.org/a?b=c", (), ()),
    # negation
    ("rain -dog", "rain", (), (Not(Words(("dog",))),)),
    ('rain -"tin roof"', "rain", (), (Not(Words(("tin", "roof"))),)),
    ("rain -tag:dog -type:video", "rain", (), (Not(HasTag("dog")), Not(MediaType("video")))),
    ("a - b --", "a - b --", (), ()),
    # OR
    ("dog OR cat", "dog cat", (), ()),
    ("dog or cat", "dog or cat", (), ()),
    ("rain tag:dog OR tag:bell", "rain", (), (Or((HasTag("dog"), HasTag("bell"))),)),
    ('"tin roof" OR bells', "tin roof bells",
     (), (Or((Words(("tin", "roof")), Words(("bells",)))),)),
    ("OR rain OR", "OR rain OR", (), ()),
    ("x -tag:a OR path:/b", "x", (), (Or((Not(HasTag("a")), UnderPath(b"/b"))),)),
    # emoji and symbols are text to rank by
    ("🐕", "🐕", (), ()),
    ("♪ ♫", "♪ ♫", (), ()),
]


@pytest.mark.parametrize("raw, text, phrases, nodes", CASES)
def test_parse(raw: str, text: str, phrases: tuple, nodes: tuple) -> None:
    parsed = parse_query(raw)
    assert (parsed.text, parsed.phrases, parsed.filters) == (text, phrases,
                                                             And((*nodes, PRESENT)))


def test_status_and_flags() -> None:
    assert parse_query("status:missing").filters == And((Status("missing"),))
    assert parse_query("-status:done").filters == And((Not(Status("done")),))
    assert parse_query("rain", include_missing=True).filters == And(())
    assert parse_query("rain", (HasTag("dog"),)).filters == And((HasTag("dog"), PRESENT))


@pytest.mark.parametrize("raw, message", [
    ("type:podcast", "audio or video"),
    ("status:gone", "status: must be one of"),
    ("duration:long", "duration: 'long': give a length such as 90, 1:30"),
    ("duration:60..10", "ends before it starts"),
    ("duration:1:99", "duration: '1:99': not a clock time"),
    ("duration:..1:60:00", "'1:60:00': not a clock time"),
    ("duration:nan..", "duration: 'nan'"),
    ("duration:inf", "duration: 'inf'"),
    ("duration:..", "give a range"),
    ("since:yesterday", "since: 'yesterday': give a date"),
    ("since:999999999d", "longer than a century"),
    ("since:9999-12-31", "in the future"),
    ("since:0001-01-01T00:00+01:00", "not a date"),
    ('tag:""', "tag name"),
    ("tag:", "tag name"),  # a field without its value is a mistake, not text
    ("tag: dog", "tag name"),
    ("dog path: /radio", "needs a file or folder"),
    ("-TYPE:", "audio or video, not ''"),
    ("x" * 100_000, "at most 1000"),
    ("", "empty"),
    ('"" ', "empty"),
    ("dog \udcff", r"the word '\\xff' holds bytes that are not UTF-8"),
    ("tag:\udcff", "tag:"),
])
def test_refused(raw: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(raw)
