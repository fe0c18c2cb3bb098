"""The query language, table-driven: what each query means, and what is refused."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from archivetag.index.query import Filters, QueryError, parse_query

CASES = [
    ("dog barking", "dog barking", (), Filters()),
    ('"tin roof" rain', "tin roof rain", ("tin roof",), Filters()),
    ("dog tag:Dog tag:'bark'", "dog", (), Filters(tags=("dog", "'bark'"))),
    ('tag:"Rain  on surface" x', "x", (), Filters(tags=("rain on surface",))),
    ("path:/radio bells", "bells", (), Filters(paths=(b"/radio",))),
    ("type:VIDEO cars", "cars", (), Filters(media_type="video")),
    ("duration:10..60 a", "a", (), Filters(duration=(10.0, 60.0))),
    ("duration:..30 a", "a", (), Filters(duration=(None, 30.0))),
    ("since:2026-01-31 a", "a", (),
     Filters(since=datetime(2026, 1, 31, tzinfo=timezone.utc))),
    ('NEAR( * "unbalanced', 'NEAR( * unbalanced', (), Filters()),
    ("'; DROP TABLE segments; --", "'; DROP TABLE segments; --", (), Filters()),
    ("tag:dog", "", (), Filters(tags=("dog",))),
]


@pytest.mark.parametrize("raw, text, phrases, filters", CASES)
def test_parse(raw: str, text: str, phrases: tuple, filters: Filters) -> None:
    parsed = parse_query(raw)
    assert (parsed.text, parsed.phrases, parsed.filters) == (text, phrases, filters)


@pytest.mark.parametrize("raw, message", [
    ("colour:red dog", "unknown filter 'colour:'"),
    ("type:podcast", "audio or video"),
    ("duration:long", "seconds"),
    ("duration:60..10", "range"),
    ("since:yesterday", "date"),
    ("tag:", "tag name"),
    ("x" * 100_000, "at most 1000"),
    ("type:audio type:video", "twice"),
])
def test_refused(raw: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(raw)
