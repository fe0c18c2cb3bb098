"""Errors a user can act on: the command line prints their one-line message, never a traceback."""


class UserError(Exception):
    """A problem with what the user asked for or set up; `exit_code` follows the design."""

    exit_code = 1


class UsageError(UserError):
    """A wrong flag, setting or argument (exit 2)."""

    exit_code = 2
