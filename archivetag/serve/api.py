"""The JSON API under /api/: what the command line's --json gives, plus media URLs.

GET /api/search?q=…&tag=&path=&type=&duration=&since=&mode=&page=  -> {query, page,
    page_size, more, took_ms, results: [search --json record + file_id, media_type,
    transcoded, media_url]}; 400 {error} for a query that cannot be run.
GET /api/files/{id}  -> show --json + file_id, container, streams, transcoded, media_url; 404.
GET /api/tags?pattern=  -> tags --json, each with search_url.
GET /api/status  -> status --json + attention (failures --json).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from archivetag.serve import views


async def search(request: Request) -> JSONResponse:
    answer = await run_in_threadpool(views.search, request.app.state.catalogue,
                                     dict(request.query_params))
    if answer.error:
        return JSONResponse({"error": answer.error}, status_code=400)
    return JSONResponse(answer.api())


async def file(request: Request) -> JSONResponse:
    found = await run_in_threadpool(views.file_answer, request.app.state.catalogue,
                                    request.path_params["file_id"])
    if found is None:
        return JSONResponse({"error": "no such file in the catalogue"}, status_code=404)
    return JSONResponse(found)


async def tags(request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(
        views.tags_answer, request.app.state.catalogue, request.query_params.get("pattern")))


async def status(request: Request) -> JSONResponse:
    return JSONResponse(await run_in_threadpool(views.status_answer, request.app.state.catalogue))


routes = [
    Route("/api/search", search),
    Route("/api/files/{file_id:int}", file),
    Route("/api/tags", tags),
    Route("/api/status", status),
]
