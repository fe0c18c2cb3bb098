"""How a path is handed to ffmpeg: losslessly, and never mistaken for an option or protocol."""

import os


def media_url(path: bytes | str) -> bytes:
    """``file:`` + the absolute path, as bytes so names that are not UTF-8 pass unchanged.

    The prefix stops ffmpeg reading ``a:b.mp3`` as protocol ``a`` or ``-x.mp3`` as an
    option.
    """
    return b"file:" + os.path.abspath(os.fsencode(path))
