"""The archivetag command line."""

from __future__ import annotations

import os
import sys


def main() -> None:
    """Runs the app; a user's mistake ends with one line on stderr, never a traceback.

    The parser's own errors (an unknown option, a bad number, a missing argument) get the same
    one-line `archivetag: error: …` as the commands' (README, "Exit codes"), not click's
    three-line usage block."""
    from archivetag.cli.app import app
    from archivetag.errors import UserError

    try:
        code = app(standalone_mode=False, prog_name="archivetag")
    except UserError as error:
        _fail(str(error), error.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except OSError as error:  # a path given that cannot be used (a file where a folder goes)
        where = f"{os.fsdecode(error.filename)}: " if error.filename is not None else ""
        _fail(f"{where}{error.strerror or error}", 1)
    except Exception as error:
        if type(error).__name__ == "Abort":  # a prompt met the end of its input
            _fail("aborted", 1)
        if not _from_parser(error):
            raise
        if type(error).__name__ == "NoArgsIsHelpError":  # a group run bare: its help
            error.show()
            sys.exit(error.exit_code)
        _fail(_one_line(error), error.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(message: str, code: int) -> None:
    print(f"archivetag: error: {message}", file=sys.stderr)
    sys.exit(code)


def _from_parser(error: Exception) -> bool:
    """Whether `error` is one of click's, which typer's parser raises (ClickException:
    a message and an exit code; typer vendors click, so its classes have no public name)."""
    return hasattr(error, "format_message") and hasattr(error, "exit_code")


def _one_line(error: Exception) -> str:
    message = " ".join(error.format_message().split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    context = getattr(error, "ctx", None)
    return f"{message} (see '{context.command_path} -h')" if context is not None else message
