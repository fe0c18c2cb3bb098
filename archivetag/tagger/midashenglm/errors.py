"""The one exception type the model package raises for problems a user can fix."""

from archivetag.errors import UserError


class ModelLoadError(UserError):
    """A checkpoint, tokenizer or download problem, with a one-line message for the user.

    The CLI prints ``str(error)`` without a traceback and exits 1.
    """
