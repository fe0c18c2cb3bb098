"""The ASGI application: routes, templates, static files and the guard around them all."""

from __future__ import annotations

from pathlib import Path

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from archivetag.config import Settings
from archivetag.index.render import hms
from archivetag.serve import api, media, pages
from archivetag.serve.security import Guard, Policy
from archivetag.serve.views import Catalogue
from archivetag.storage.database import Database

HERE = Path(__file__).parent


def make_app(database: Database, settings: Settings, policy: Policy) -> Starlette:
    """The server over `database` (opened by the caller, never created here) with
    `settings` (serve.max_transcodes, search and index settings), guarded by `policy`."""
    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                     autoescape=True, undefined=jinja2.StrictUndefined)
    environment.filters["hms"] = hms
    app = Starlette(
        routes=[*pages.routes, *api.routes,
                Mount("/static", StaticFiles(directory=HERE / "static"), name="static")],
        middleware=[Middleware(Guard, policy=policy)],
    )
    app.state.catalogue = Catalogue(database, settings)
    app.state.templates = Jinja2Templates(env=environment)
    app.state.transcoder = media.Transcoder(settings["serve.max_transcodes"])
    return app
