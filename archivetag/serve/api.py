"""The JSON API under /api/: what the command line's --json gives, plus media URLs.

GET /api/search?q=…&tag=&path=&type=&duration=&since=&mode=&page=  -> {query, page,
    page_size, more, took_ms, results: [search --json record + file_id, media_type,
    transcoded, media_url]}; 400 {error} for a query that cannot be run, 503 {error}
    when the search index cannot answer.
GET /api/files/{id}  -> show --json + file_id, container, streams, transcoded, media_url; 404.
GET /api/tags?pattern=  -> tags --json, each with search_url.
GET /api/status  -> status --json + attention (failures --json).
GET /api/openapi.json  -> this API as an OpenAPI document (from the endpoints' docstrings).
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.schemas import SchemaGenerator

from archivetag import __version__
from archivetag.serve import views

SCHEMA = SchemaGenerator({"openapi": "3.0.0", "info": {
    "title": "archivetag", "version": __version__,
    "description": "Read-only: what the command line's --json prints, plus media URLs."}})


async def search(request: Request) -> JSONResponse:
    """
    ---
    summary: One page (20 results) of a search, as `archivetag search --json` prints each hit
    parameters:
      - {name: q, in: query, schema: {type: string}, description: the query language of `archivetag search`}
      - {name: tag, in: query, schema: {type: string}}
      - {name: path, in: query, schema: {type: string}, description: files under this path}
      - {name: type, in: query, schema: {type: string, enum: [audio, video]}}
      - {name: duration, in: query, schema: {type: string}, description: "file length in seconds: MIN..MAX"}
      - {name: since, in: query, schema: {type: string}, description: "first seen since: 2026-01-31, 7d"}
      - {name: mode, in: query, schema: {type: string, enum: [semantic, keyword, hybrid]}}
      - {name: page, in: query, schema: {type: integer, minimum: 1}}
    responses:
      200: {description: "{query, page, page_size, more, took_ms, results: [hit + file_id, media_type, transcoded, media_url]}"}
      400: {description: "{error}: a query that cannot be run"}
      503: {description: "{error}: the search index cannot answer (`archivetag index update` mends it)"}
    """
    answer = await run_in_threadpool(views.search, request.app.state.catalogue,
                                     dict(request.query_params))
    if answer.error:
        return JSONResponse({"error": answer.error}, status_code=answer.http_status)
    return JSONResponse(answer.api())


async def file(request: Request) -> JSONResponse:
    """
    ---
    summary: A file, as `archivetag show --json` prints it, plus file_id, container, streams, transcoded, media_url
    parameters:
      - {name: file_id, in: path, required: true, schema: {type: integer}}
    responses:
      200: {description: the file and its segments}
      404: {description: no such file in the catalogue}
    """
    found = await run_in_threadpool(views.file_answer, request.app.state.catalogue,
                                    request.path_params["file_id"])
    if found is None:
        return JSONResponse({"error": "no such file in the catalogue"}, status_code=404)
    return JSONResponse(found)


async def tags(request: Request) -> JSONResponse:
    """
    ---
    summary: The tags in use, as `archivetag tags --json` prints them, each with search_url
    parameters:
      - {name: pattern, in: query, schema: {type: string}, description: "a glob (dog*) or a part of the name"}
    responses:
      200: {description: "[{tag, class_id, segments, files, search_url}]"}
    """
    return JSONResponse(await run_in_threadpool(
        views.tags_answer, request.app.state.catalogue, request.query_params.get("pattern")))


async def status(request: Request) -> JSONResponse:
    """
    ---
    summary: The catalogue's state, as `archivetag status --json` prints it, plus attention (`failures --json`)
    responses:
      200: {description: counts by status, last runs, files needing attention}
    """
    return JSONResponse(await run_in_threadpool(views.status_answer, request.app.state.catalogue))


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(SCHEMA.get_schema(routes=request.app.routes))


routes = [
    Route("/api/search", search),
    Route("/api/files/{file_id:int}", file),
    Route("/api/tags", tags),
    Route("/api/status", status),
    Route("/api/openapi.json", openapi, include_in_schema=False),
]
