"""`archivetag serve`: the catalogue in a browser (search, listen, browse), read-only."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from archivetag.cli.common import settings_options
from archivetag.config import Settings


@settings_options(setting_flags={"host": "serve.host", "port": "serve.port"})
def serve(
    settings: Settings,
    host: Annotated[Optional[str], typer.Option("--host", help="Address to listen on (default: serve.host, 127.0.0.1). Any other than loopback needs a token.", show_default=False)] = None,
    port: Annotated[Optional[int], typer.Option("--port", help="TCP port (default: serve.port, 8765).", show_default=False)] = None,
    token_file: Annotated[Optional[Path], typer.Option("--token-file", help="Read the access token from this file instead of the serve.token setting.", show_default=False, metavar="FILE")] = None,
    open_browser: Annotated[bool, typer.Option("--open", help="Open the search page in a web browser.")] = False,
) -> None:
    """Serve the catalogue as web pages and a JSON API until Ctrl-C (read-only)."""
    from archivetag.cli.common import open_catalogue
    from archivetag.serve.security import policy_for, read_token, require_token

    host, port = settings["serve.host"], settings["serve.port"]
    token = read_token(settings["serve.token"], token_file)
    require_token(host, token)
    with open_catalogue(settings) as database:  # before uvicorn: no catalogue, no import
        import uvicorn

        from archivetag.serve.app import make_app

        app = make_app(database, settings, policy_for(host, token, settings["serve.allowed_hosts"]))
        shown = f"[{host}]" if ":" in host else host
        address = f"http://{shown}:{port}/"
        typer.echo(f"archivetag: serving {database.url} at {address} (Ctrl-C stops)", err=True)
        if open_browser:
            import threading
            import webbrowser

            threading.Timer(1.0, webbrowser.open, [address]).start()
        uvicorn.run(app, host=host, port=port, log_level="warning", server_header=False)
