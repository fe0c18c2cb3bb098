"""`archivetag search QUERY`: the segments (or files) that sound like the query."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from archivetag.cli.common import PlainHelp, completing, settings_options
from archivetag.cli.output import Output, emit, output_options
from archivetag.config import Settings
from archivetag.errors import UsageError

QUERY_HELP = (
    'Words to rank by (several words are one query, as if quoted together); "a phrase" must '
    'match as written (keyword and hybrid); -word or -"a phrase" leaves matches out; A OR B takes either; fields tag:NAME, path:DIR (relative '
    'to here), type:audio|video, duration:1m..2m, since:7d or since:2026-01-31, '
    'status:missing (otherwise files missing at the last scan are left out); lengths and ages '
    'as 90, 1:30, 1m30s, 2h or 7d; any other word: is text. A query that starts with - goes '
    'after --. Example: \'"church bells" -organ tag:bell OR tag:chime duration:..5m\'.')


def _modes() -> tuple[str, ...]:
    from archivetag.index.search import MODES

    return MODES


def _media_types() -> tuple[str, ...]:
    from archivetag.index.query import MEDIA_TYPES

    return MEDIA_TYPES


ModeFlag = Annotated[Optional[str], typer.Option(
    "--mode", help="semantic, keyword or hybrid (default: search.mode).", show_default=False,
    metavar="[semantic|keyword|hybrid]", autocompletion=completing(_modes))]
LimitFlag = Annotated[Optional[int], typer.Option(
    "--limit", "-n", min=1, max=100000, help="Results shown (default: search.limit).",
    show_default=False)]


class SearchCommand(PlainHelp):
    """`search`, whose query may leave words out (`-organ`): such a word, taken by the parser
    for an unknown option, gets an error that says to put the query after `--` (README,
    "Searching") instead of click's "no such option: -o"."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        given = list(args)  # the parser consumes `args`
        try:
            return super().parse_args(ctx, args)
        except Exception as error:  # click's NoSuchOption, which typer vendors unnamed
            word = negated_word(given, getattr(error, "option_name", None))
            if type(error).__name__ != "NoSuchOption" or word is None:
                raise
            error.message = (f"no such option: {word}; to leave out {word[1:]!r}, put the "
                             f"query after --: archivetag search [OPTIONS] -- … {word}")
            error.possibilities = None
            raise


def negated_word(args: list[str], option_name: str | None) -> str | None:
    """The argument before any `--` that made the parser report `option_name` unknown, when
    it has one dash (`-organ`, reported as `-o`): a word to leave out, not a mistyped
    `--option`."""
    before = args[:args.index("--")] if "--" in args else args
    return next((arg for arg in before if option_name and arg.startswith(option_name)
                 and not arg.startswith("--")), None)


def stderr_line(message: str) -> None:
    print(f"archivetag: {message}", file=sys.stderr)


def make_request(query: str, mode: str | None, limit: int | None, settings: Settings,
                 flags: tuple = (), min_score: float | None = None,
                 include_missing: bool = False):
    """The SearchRequest for a query and the search flags (shared with `export --query`);
    `flags` are filter nodes (archivetag/index/filters.py) the results must all pass."""
    import math

    from archivetag.index.query import parse_query
    from archivetag.index.search import MODES, SearchRequest

    mode = mode or settings["search.mode"]
    if mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}")
    if min_score is not None and not (math.isfinite(min_score) and 0 <= min_score <= 1):
        raise UsageError(f"--min-score {min_score}: give a score from 0 to 1")
    parsed = parse_query(query, tuple(flags), include_missing)
    if min_score is not None and not parsed.text.strip():
        raise UsageError("--min-score does nothing with a query of filters only (its results "
                         "all score 0): add words to search, or drop it")
    return SearchRequest(parsed, mode, limit or settings["search.limit"], min_score)


def flag_filters(tag: list[str], path: list[str], media_type: list[str],
                 duration: list[str], since: list[str]) -> tuple:
    """The filter flags as nodes: any --path, every other flag, as `tag:`, `duration:` and
    the rest are in the query (also the web page's form fields)."""
    from archivetag.index import filters as f
    from archivetag.index import query as q

    nodes = [q.parse_tag(t, "--tag") for t in tag]
    nodes += [f.Or(tuple(q.parse_path(p, "--path") for p in path))] if path else []
    nodes += [q.parse_type(t, "--type") for t in media_type]
    nodes += [q.parse_duration(d, "--duration") for d in duration]
    nodes += [q.parse_since(t, "--since") for t in since]
    return tuple(nodes)


@settings_options
@output_options
def search(
    settings: Settings,
    query: Annotated[Optional[list[str]], typer.Argument(help=QUERY_HELP, show_default=False)] = None,
    mode: ModeFlag = None,
    limit: LimitFlag = None,
    tag: Annotated[list[str], typer.Option("--tag", help="Segments with this tag (repeatable: all).")] = [],
    path: Annotated[list[str], typer.Option("--path", help="Files under this path (repeatable: any).")] = [],
    media_type: Annotated[list[str], typer.Option("--type", help="audio or video.", show_default=False, metavar="[audio|video]", autocompletion=completing(_media_types))] = [],
    duration: Annotated[list[str], typer.Option("--duration", help="File length: MIN..MAX, ..MAX, MIN.. or EXACT, each as 90, 1:30, 1m30s or 2h (repeatable: all).", show_default=False)] = [],
    since: Annotated[list[str], typer.Option("--since", help="Files first seen since: 2026-01-31, 7d, 12h.", show_default=False)] = [],
    include_missing: Annotated[bool, typer.Option("--include-missing", help="Also files gone from disk at the last scan (status:missing: only those).")] = False,
    min_score: Annotated[Optional[float], typer.Option("--min-score", help="Drop results scoring below this, 0..1, the same scale in every mode.", show_default=False)] = None,
    files: Annotated[bool, typer.Option("--files", help="Group by file: the best segments of each file (kept in every format).")] = False,
    *,
    output: Output,
) -> None:
    """Find the seconds of the archive that sound like QUERY."""
    from dataclasses import replace

    from archivetag.cli.common import open_catalogue
    from archivetag.index import render
    from archivetag.index.filters import paths_without_files
    from archivetag.index.search import Searcher
    from archivetag.vocabulary import display_path

    if files and output.format == "paths":
        raise UsageError("--files does nothing with --paths (which lists each file once): "
                         "choose one")
    request = make_request(" ".join(query or ()), mode, limit, settings,
                           flag_filters(tag, path, media_type, duration, since), min_score,
                           include_missing)
    by_file = files or output.format == "paths"  # --paths lists files: --limit counts files
    if by_file:  # enough segments to fill the files asked for
        request = replace(request, limit=min(request.limit * 10, 100000))
    with open_catalogue(settings) as database:
        searcher = Searcher(database, settings, stderr_line)
        results = searcher.search(request)
        if not results and request.min_score is not None:  # say what the threshold hid
            best = searcher.search(replace(request, min_score=None, limit=1))
            if best:
                stderr_line(f"no result reaches --min-score {request.min_score:g}; the best "
                            f"scored {best[0].score:.2f}")
        if not results:
            with database.sessions() as session:
                for prefix in paths_without_files(request.query.filters, session):
                    stderr_line(f"no catalogued file is under {display_path(prefix)}")
    if files:
        grouped = render.by_file(results, request.limit // 10)
        rows = [render.file_record(group) for group in grouped]
        paths = [group.path for group in grouped]
        flat = [(rank, hit) for rank, group in enumerate(rows, 1) for hit in group["hits"]]
        if output.format == "csv":  # one row a hit, its file's rank beside it
            rows = [{"file_rank": rank, **hit} for rank, hit in flat]
        links = output.format == "table" and sys.stdout.isatty()
        emit(output, rows, lambda _: sys.stdout.write(
            render.files_as_text(grouped, links) or "no matches\n"), paths=paths,
            columns=("file_rank", *render.RECORD_COLUMNS))
    else:
        links = output.format == "table" and sys.stdout.isatty()
        paths = [group.path for group in render.by_file(results, request.limit // 10)] \
            if by_file else []
        emit(output, [render.record(result) for result in results], lambda _: sys.stdout.write(
            render.as_text(results, links) or "no matches\n"),
            paths=paths, columns=render.RECORD_COLUMNS)
