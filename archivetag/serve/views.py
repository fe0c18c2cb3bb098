"""What each request answers, as data: the pages draw it, the API returns it as JSON.

Every answer is what the command line's `--json` gives for the same request (issue 15's
output contract: `render.record` for a search hit, `show --json` for a file, `tags --json`,
`status --json`), plus a `media_url` on every hit and file.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

from archivetag.config import Settings
from archivetag.errors import UserError
from archivetag.index.index_view import IndexNotReady
from archivetag.index.query import QueryError
from archivetag.serve import media
from archivetag.storage.database import Database

PAGE_SIZE = 20  # results a search page shows (issue 17)
FILTER_FIELDS = ("tag", "path", "type", "duration", "since", "mode")


class Catalogue:
    """The catalogue a server reads, and one `Searcher` kept between requests (the query
    embedder and the loaded index), reopened when `archivetag index update` rewrites the
    index file, so a nightly ingest shows without a restart."""

    def __init__(self, database: Database, settings: Settings) -> None:
        from archivetag.storage.reader import engine_reader

        self.database = database
        self.reader = engine_reader(database.engine)  # what `status`, `show`, `tags` read
        self.settings = settings
        self._lock = threading.Lock()
        self._searcher = None
        self._stamp = None

    def searcher(self):
        from archivetag.cli.search import stderr_line
        from archivetag.index.catalogue_index import catalogue_uid
        from archivetag.index.index_file import index_path
        from archivetag.index.search import Searcher

        path = index_path(self.settings, catalogue_uid(self.database))
        stamp = path.stat().st_mtime_ns if path.exists() else None
        with self._lock:
            if self._searcher is None or stamp != self._stamp:
                self._searcher, self._stamp = Searcher(self.database, self.settings, stderr_line), stamp
            return self._searcher


@dataclass(frozen=True)
class SearchAnswer:
    """One page of a search: `hits` are records (`render.record` + file_id, media_type and
    media_url), `files` the same hits grouped by file in rank order; `took_ms` the search's
    time; `error` a one-line message for a query that cannot be run (then no hits), and
    `unavailable` when that is the server's doing, not the query's (the index cannot answer)."""

    query: str
    form: dict[str, str]
    page: int
    hits: list[dict] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    more: bool = False
    took_ms: float = 0.0
    error: str | None = None
    unavailable: bool = False

    @property
    def http_status(self) -> int:
        """200; 400 for a query that cannot be run; 503 when the index cannot answer."""
        return 503 if self.unavailable else 400 if self.error else 200

    def api(self) -> dict:
        return {"query": self.query, "page": self.page, "page_size": PAGE_SIZE,
                "more": self.more, "took_ms": self.took_ms, "results": self.hits}


def search(catalogue: Catalogue, params: dict[str, str]) -> SearchAnswer:
    """The page `params["page"]` (from 1) of the search `params` describe: `q` in the query
    language, and the filter fields tag, path, type, duration, since, mode."""
    from archivetag.cli.search import flag_filters, make_request
    from archivetag.index import render

    query = params.get("q", "").strip()
    form = {name: params.get(name, "").strip() for name in FILTER_FIELDS}
    try:
        page = max(1, int(params.get("page", "1")))
    except ValueError:
        page = 1
    answer = SearchAnswer(query, form, page)
    if not query and not any(form[name] for name in FILTER_FIELDS if name != "mode"):
        return answer
    try:
        filters = flag_filters(*([form[name]] if form[name] else []
                                 for name in ("tag", "path", "type", "duration", "since")))
        request = make_request(query, form["mode"] or None, page * PAGE_SIZE + 1,
                               catalogue.settings, filters)
        began = time.perf_counter()
        results = catalogue.searcher().search(request)
        took_ms = (time.perf_counter() - began) * 1000
    except IndexNotReady as error:
        return replace(answer, error=str(error), unavailable=True)
    except (QueryError, UserError) as error:
        return replace(answer, error=str(error))
    shown = results[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
    with catalogue.database.sessions() as session:
        played = media.playback(session, {result.file_id for result in shown})
    hits = [hit_record(result, played[result.file_id][0] is None) for result in shown]
    by_id = {hit["segment_id"]: hit for hit in hits}
    files = [{"file_id": group.segments[0].file_id, "path": group.display_path,
              "media_type": group.segments[0].media_type,
              "hits": [by_id[s.segment_id] for s in group.segments]}
             for group in render.by_file(shown, PAGE_SIZE, per_file=PAGE_SIZE)]
    return replace(answer, hits=hits, files=files, more=len(results) > page * PAGE_SIZE,
                   took_ms=round(took_ms, 1))


def hit_record(result, transcoded: bool) -> dict:
    """`render.record` of a search hit, with its file's id, media type and `media_url`
    (`transcoded`: whether its file is played through a transcode)."""
    from archivetag.index import render

    return {**render.record(result), "file_id": result.file_id,
            "media_type": result.media_type, "transcoded": transcoded,
            "media_url": media.url(result.file_id, transcoded, result.start_s)}


def file_answer(catalogue: Catalogue, file_id: int) -> dict | None:
    """`show --json` of the file with this id plus `file_id`, `container`, `streams`,
    `transcoded` and `media_url`; None when no such file is catalogued."""
    from archivetag.cli.files import file_report
    from archivetag.storage.reports import stored_file

    with catalogue.reader.snapshot() as query:
        stored = stored_file(query, file_id=file_id)
    if stored is None:
        return None
    with catalogue.database.sessions() as session:
        transcoded = media.playback(session, {file_id})[file_id][0] is None
    return {**file_report(stored), "file_id": stored.id, "container": stored.container,
            "streams": stored.streams, "transcoded": transcoded,
            "media_url": media.url(stored.id, transcoded)}


def tags_answer(catalogue: Catalogue, pattern: str | None) -> list[dict]:
    """`tags --json`, each tag with the URL of its tag search."""
    from urllib.parse import urlencode

    from archivetag.cli.tags import tag_rows

    rows = tag_rows(catalogue.reader, pattern or None)
    return [{**row, "search_url": "/?" + urlencode({"tag": row["tag"]})} for row in rows]


def status_answer(catalogue: Catalogue) -> dict:
    """`status --json` plus `attention`: `failures --json` (failed, partly read, skipped)."""
    from archivetag.cli.files import failure_rows
    from archivetag.cli.status import status_report

    report = status_report(catalogue.reader, catalogue.settings)
    report["attention"] = failure_rows(catalogue.reader)[0]
    return report
