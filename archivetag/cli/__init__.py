"""The archivetag command line."""

from __future__ import annotations

import sys


def main() -> None:
    """Runs the app; a user's mistake ends with one line on stderr, never a traceback."""
    from archivetag.cli.app import app
    from archivetag.errors import UserError

    try:
        app()
    except UserError as error:
        print(f"archivetag: error: {error}", file=sys.stderr)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        print("archivetag: interrupted", file=sys.stderr)
        sys.exit(130)
