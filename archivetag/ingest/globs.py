"""Include/exclude globs over paths relative to a scanned root, on bytes.

A pattern without ``/`` matches a name at any depth (``*.tmp``, ``@eaDir``); a pattern
with ``/`` matches the whole relative path, ``**`` spanning folders
(``**/@eaDir/**``). ``fnmatch`` lets ``*`` cross ``/``, which would make
``2019/*.wav`` match files in every subfolder, hence this small translator.
"""

import os
import re


def _translate(pattern: str) -> bytes:
    raw = os.fsencode(pattern.strip("/"))
    out, i = [], 0
    while i < len(raw):
        if raw.startswith(b"**/", i):
            out.append(b"(?:.*/)?")
            i += 3
        elif raw.startswith(b"/**", i) and i + 3 == len(raw):
            out.append(b"(?:/.*)?")
            i += 3
        elif raw.startswith(b"**", i):
            out.append(b".*")
            i += 2
        elif raw[i : i + 1] == b"*":
            out.append(b"[^/]*")
            i += 1
        elif raw[i : i + 1] == b"?":
            out.append(b"[^/]")
            i += 1
        elif raw[i : i + 1] == b"[":
            end = raw.find(b"]", i + 2)
            if end < 0:
                raise ValueError(f"glob {pattern!r}: '[' without a closing ']'")
            body = raw[i + 1 : end]
            if body.startswith(b"!"):
                body = b"^" + body[1:]
            out.append(b"[" + body.replace(b"\\", b"\\\\") + b"]")
            i = end + 1
        else:
            out.append(re.escape(raw[i : i + 1]))
            i += 1
    return b"".join(out)


class GlobSet:
    """A set of globs; ``match`` says whether any of them matches a relative path."""

    def __init__(self, patterns: tuple[str, ...]):
        names = [_translate(p) for p in patterns if "/" not in p.strip("/")]
        paths = [_translate(p) for p in patterns if "/" in p.strip("/")]
        self._names = re.compile(b"|".join(names)) if names else None
        self._paths = re.compile(b"|".join(paths)) if paths else None

    def __bool__(self) -> bool:
        return bool(self._names or self._paths)

    def match(self, rel: bytes) -> bool:
        name = rel.rpartition(b"/")[2]
        return bool(
            (self._names and self._names.fullmatch(name))
            or (self._paths and self._paths.fullmatch(rel))
        )
