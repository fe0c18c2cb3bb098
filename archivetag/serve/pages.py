"""The HTML pages: search (with in-place playback), file, tags, status; and the media route.

Templates are Jinja2 with autoescaping on, so captions, tags and paths (model output and
file names, which may hold markup) are always text, never HTML.
"""

from __future__ import annotations

import os
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from archivetag.cli.status import index_line, run_files
from archivetag.serve import media, timeline, views


def _render(request: Request, name: str, context: dict, status_code: int = 200) -> Response:
    return request.app.state.templates.TemplateResponse(request, name, context,
                                                        status_code=status_code)


async def search_page(request: Request) -> Response:
    answer = await run_in_threadpool(views.search, request.app.state.catalogue,
                                     dict(request.query_params))
    params = {"q": answer.query, **{k: v for k, v in answer.form.items() if v}}
    return _render(request, "search.html", {
        "answer": answer,
        "previous": "?" + urlencode({**params, "page": answer.page - 1}) if answer.page > 1 else None,
        "next": "?" + urlencode({**params, "page": answer.page + 1}) if answer.more else None,
    }, status_code=answer.http_status)


async def file_page(request: Request) -> Response:
    found = await run_in_threadpool(views.file_answer, request.app.state.catalogue,
                                    request.path_params["file_id"])
    if found is None:
        return _render(request, "missing.html", {}, status_code=404)
    return _render(request, "file.html", {
        "file": found, "timeline": timeline.build(found["segments"], found["duration"])})


async def tags_page(request: Request) -> Response:
    pattern = request.query_params.get("pattern", "").strip()
    rows = await run_in_threadpool(views.tags_answer, request.app.state.catalogue, pattern)
    return _render(request, "tags.html", {"rows": rows, "pattern": pattern})


async def status_page(request: Request) -> Response:
    report = await run_in_threadpool(views.status_answer, request.app.state.catalogue)
    return _render(request, "status.html", {
        "report": report, "index_line": index_line(report["index"]),
        "run_files": {run["id"]: run_files(run) for run in report["runs"]}})


async def export_file(request: Request) -> Response:
    """The file's annotations as WebVTT or SRT (`export --format vtt|srt` for one file)."""
    from archivetag.index.annotation_export import file_records
    from archivetag.index.sidecars import document as sidecar

    kind, file_id = request.path_params["kind"], request.path_params["file_id"]
    if kind not in ("vtt", "srt"):
        return PlainTextResponse("no such export\n", status_code=404)

    def document() -> tuple[str, str] | None:
        with request.app.state.catalogue.database.sessions() as session:
            found = file_records(session, file_id)
        if found is None:
            return None
        name, records = found
        return name, sidecar(records, kind)

    made = await run_in_threadpool(document)
    if made is None:
        return PlainTextResponse("no such file in the catalogue\n", status_code=404)
    name, text = made
    filename = quote(f"{name.rsplit('/', 1)[-1]}.{kind}")
    return PlainTextResponse(text, media_type="text/vtt" if kind == "vtt" else "application/x-subrip",
                             headers={"content-disposition": f"inline; filename*=UTF-8''{filename}"})


async def media_route(request: Request) -> Response:
    """The file as it is (Range requests answered with 206), or transcoded from `?start=`."""
    catalogue = request.app.state.catalogue

    def lookup():
        with catalogue.database.sessions() as session:
            return media.find_media(session, request.path_params["file_id"])

    found = await run_in_threadpool(lookup)
    if found is None:
        return PlainTextResponse("no such media file\n", status_code=404)
    if not found.transcoded:
        return FileResponse(os.fsdecode(found.path), media_type=found.content_type)
    try:
        start = max(0.0, float(request.query_params.get("start", "0")))
    except ValueError:
        return PlainTextResponse("start must be a number of seconds\n", status_code=400)
    if request.method == "HEAD":
        return Response(media_type=media.TRANSCODED_TYPE)
    transcoder: media.Transcoder = request.app.state.transcoder
    if not transcoder.claim():
        return PlainTextResponse(f"{transcoder.limit} transcodes are running; try again\n",
                                 status_code=503, headers={"retry-after": "2"})
    return StreamingResponse(transcoder.stream(found, start), media_type=media.TRANSCODED_TYPE,
                             headers={"cache-control": "no-store"})


routes = [
    Route("/", search_page),
    Route("/files/{file_id:int}", file_page),
    Route("/files/{file_id:int}/export.{kind}", export_file),
    Route("/tags", tags_page),
    Route("/status", status_page),
    Route("/media/{file_id:int}", media_route),
]
