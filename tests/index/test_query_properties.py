"""Properties of the query language over random text, bytes and filter values, on both
databases: the parser answers or refuses with a QueryError, every clause it builds runs, and
negation and OR are exact set complement and union over the catalogue's segments."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archivetag.index.filters import And, Not, Or, allowed_segments
from archivetag.index.keyword import keyword_hits
from archivetag.index.query import ParsedQuery, QueryError, parse_query

NAMES = ["", "", "-", "tag:", "-tag:", "path:", "type:", "duration:", "-duration:", "since:",
         "status:", "-status:", "note:", '"', "-\"", "OR ", "https://"]
VALUES = st.one_of(
    st.text(max_size=12),
    st.binary(max_size=8).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
    st.sampled_from(["dog", "rain", "bells", "Dog barking", "/radio", "radio", "/tv/", "audio",
                     "VIDEO", "1m..2m", "..30", "3600..", "1:30", "7d", "2026-01-01", "missing",
                     "done", "pending", "nan", "inf", "1e999", "999999999d", "..", "9999-12-31",
                     "狗", "🐕", '"tin roof"', "-1", "0..0"]),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)
QUERIES = st.lists(st.tuples(st.sampled_from(NAMES), VALUES).map("".join), max_size=6).map(
    " ".join)


def parsed_or_refused(raw: str) -> ParsedQuery | None:
    try:
        return parse_query(raw)
    except QueryError:
        return None


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=QUERIES, second=QUERIES)
def test_negation_and_or_are_set_complement_and_union(catalogue, first: str,
                                                      second: str) -> None:
    a, b = parsed_or_refused(first), parsed_or_refused(second)
    with catalogue.database.sessions() as session:
        def ids(node) -> set[int]:
            segments = allowed_segments(node)
            each = set(session.scalars(segments.each))
            assert set(session.scalars(segments.whole)) == each  # the two shapes agree
            return each

        everything = ids(And())
        for query in (a, b):
            if query is not None:
                assert ids(Not(query.filters)) == everything - ids(query.filters)
                keyword_hits(session, query, ["caption", "tags"], 10,
                             allowed_segments(query.filters).whole)
        if a is not None and b is not None:
            assert ids(Or((a.filters, b.filters))) == ids(a.filters) | ids(b.filters)
            assert ids(And((a.filters, b.filters))) == ids(a.filters) & ids(b.filters)
