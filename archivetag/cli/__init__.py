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
        if type(error).__name__ == "Abort":  # a prompt got Ctrl-C or the end of its input
            if isinstance(error.__context__, KeyboardInterrupt):
                _fail("interrupted", 130)
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


# pydantic's error types (typer checks values with pydantic) as plain words; {ge} and the
# like are the limits pydantic names in the error's ctx.
_PLAIN = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_parsing": "must be a number",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "less_than": "must be less than {lt}",
}


def _plain_value_error(error: Exception) -> str | None:
    """A bad value that typer's pydantic check refused, said plainly ("--limit must be a whole
    number, not 'abc'") instead of pydantic's "Input should be a valid integer, unable to parse
    string as an integer"; None when the error did not come from that check."""
    param, cause = getattr(error, "param", None), error.__cause__
    problems = cause.errors() if param is not None and hasattr(cause, "errors") else []
    if not problems:
        return None
    first = problems[0]
    name = (max(param.opts, key=len) if param.param_type_name == "option"
            else param.human_readable_name)
    if first["type"] in _PLAIN:
        return f"{name} {_PLAIN[first['type']].format(**first.get('ctx', {}))}, not {first['input']!r}"
    if first["type"] == "value_error":  # a choice, in its own words without "Value error, "
        return f"invalid value for {name}: {first['ctx']['error']}"
    return None


def _one_line(error: Exception) -> str:
    said = _plain_value_error(error) or error.format_message()
    message = " ".join(said.split()).rstrip(".")
    message = message[:1].lower() + message[1:]
    context = getattr(error, "ctx", None)
    return f"{message} (see '{context.command_path} -h')" if context is not None else message
