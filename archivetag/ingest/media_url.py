"""How a path is handed to ffmpeg: losslessly, and never mistaken for an option or protocol."""

import os


def media_url(path: bytes | str) -> str:
    """``file:`` + the absolute path, as a str whose odd bytes survive as surrogates.

    The prefix stops ffmpeg reading ``a:b.mp3`` as protocol ``a`` or ``-x.mp3`` as an
    option; subprocess turns the surrogate escapes back into the original bytes.
    """
    return "file:" + os.fsdecode(os.path.abspath(os.fsencode(path)))
