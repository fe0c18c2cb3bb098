"""The one exception type the model package raises for problems a user can fix."""


class ModelLoadError(Exception):
    """A checkpoint, tokenizer or download problem, with a one-line message for the user.

    The CLI prints ``str(error)`` without a traceback and exits 1.
    """
