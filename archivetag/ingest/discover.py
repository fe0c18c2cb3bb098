"""Walk roots into candidate media files and problems, as a stream.

Nothing here stops the walk: unreadable folders, vanished files, loops and odd names
become ``Problem`` items next to the ``Candidate`` items, and the tree is read one
directory iterator at a time, so memory does not grow with the number of files.
"""

import collections
import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from archivetag.ingest.fingerprint import (
    ChangedWhileReading,
    NotRegularFile,
    file_kind,
    fingerprint,
)
from archivetag.ingest.globs import GlobSet
from archivetag.ingest.names import display_path

MEDIA_EXTENSIONS: tuple[str, ...] = (
    # audio
    "aac", "ac3", "aif", "aifc", "aiff", "amr", "ape", "au", "caf", "dts", "eac3",
    "flac", "m4a", "m4b", "mka", "mp2", "mp3", "mpa", "mpc", "oga", "ogg", "opus",
    "ra", "snd", "spx", "tta", "voc", "w64", "wav", "wave", "wma", "wv",
    # video
    "3g2", "3gp", "asf", "avi", "dv", "f4v", "flv", "m2ts", "m4v", "mkv", "mov",
    "mp4", "mpeg", "mpg", "mts", "mxf", "ogv", "rm", "rmvb", "ts", "vob", "webm", "wmv",
)  # fmt: skip

# Folders that NAS boxes and operating systems fill with thumbnails, trash and metadata.
SYSTEM_FOLDERS = frozenset(
    {b"@eaDir", b"#recycle", b"#snapshot", b"$RECYCLE.BIN", b"RECYCLER",
     b"System Volume Information", b"lost+found", b"__MACOSX"}
)  # fmt: skip


@dataclass(frozen=True)
class DiscoveryOptions:
    """What to look at. Globs match paths relative to the root given (see ``globs``)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    extensions: tuple[str, ...] = MEDIA_EXTENSIONS  # empty: let ffprobe judge every file
    include_hidden: bool = False  # dot-files and the system folders above
    follow_symlinks: bool = True


@dataclass(frozen=True)
class Candidate:
    """A regular file worth probing, with what the planner compares between runs."""

    path: bytes  # absolute, exactly as on disk
    size: int
    mtime_ns: int
    device: int  # st_dev: a root that moved to another device is not the same archive
    inode: int
    fingerprint: str

    @property
    def display(self) -> str:
        return display_path(self.path)


@dataclass(frozen=True)
class Problem:
    """A path the walk could not turn into a candidate, with a short reason.

    ``hides_subtree`` is set when a whole folder (or root) went unread: files stored
    under it must not be taken for deleted.
    """

    path: bytes
    status: Literal["failed", "skipped", "missing"]
    reason: str
    hides_subtree: bool = False

    @property
    def display(self) -> str:
        return display_path(self.path)


def _os_reason(error: OSError) -> tuple[Literal["failed", "missing"], str]:
    if error.errno == errno.ENOENT:
        return "missing", "vanished during the scan"
    if error.errno in (errno.EACCES, errno.EPERM):
        return "failed", "permission denied"
    return "failed", error.strerror or type(error).__name__


class _Walker:
    def __init__(self, options: DiscoveryOptions):
        self.options = options
        self.include = GlobSet(options.include)
        self.exclude = GlobSet(options.exclude)
        self.extensions = frozenset(
            os.fsencode("." + e.lower().lstrip(".")) for e in options.extensions
        )
        self.visited: set[tuple[int, int]] = set()

    def _hidden(self, name: bytes) -> bool:
        return not self.options.include_hidden and (
            name.startswith(b".") or name in SYSTEM_FOLDERS
        )

    def _wanted_file(self, rel: bytes) -> bool:
        if self.exclude.match(rel) or (self.include and not self.include.match(rel)):
            return False
        if not self.extensions:
            return True
        return os.path.splitext(rel)[1].lower() in self.extensions

    def file(self, path: bytes) -> Candidate | Problem:
        try:
            st, print_ = fingerprint(path)
        except NotRegularFile as error:
            return Problem(path, "skipped", str(error))
        except ChangedWhileReading as error:
            return Problem(path, "failed", str(error))
        except OSError as error:
            return Problem(path, *_os_reason(error))
        return Candidate(path, st.st_size, st.st_mtime_ns, st.st_dev, st.st_ino, print_)

    def root(self, root: bytes) -> Iterator[Candidate | Problem]:
        path = os.path.abspath(root)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            yield Problem(path, "missing", "root not found", True)
            return
        except OSError as error:
            yield Problem(path, *_os_reason(error), True)
            return
        if not stat.S_ISDIR(st.st_mode):
            yield self.file(path)  # a file named explicitly is taken whatever its name
            return
        # Folders reached through symlinks wait until the real tree is done, so a folder
        # inside the root is always reported under its real path.
        links = collections.deque([(path, b"")])
        while links:
            yield from self._walk(*links.popleft(), links)

    def _enter(self, path: bytes) -> Iterator[os.DirEntry[bytes]] | Problem:
        """Open a folder once: a second way into it is reported, not walked again."""
        try:
            st = os.stat(path)
            if (st.st_dev, st.st_ino) in self.visited:
                return Problem(path, "skipped", "folder already scanned through another path")
            entries = os.scandir(path)
        except OSError as error:
            return Problem(path, *_os_reason(error), True)
        self.visited.add((st.st_dev, st.st_ino))
        return entries

    def _walk(
        self, top: bytes, top_rel: bytes, links: collections.deque
    ) -> Iterator[Candidate | Problem]:
        """Depth-first over real folders, one open directory iterator per level."""
        opened = self._enter(top)
        if isinstance(opened, Problem):
            yield opened
            return
        stack = [(top, top_rel, opened)]
        while stack:
            path, rel_dir, entries = stack[-1]
            try:
                entry = next(entries, None)
            except OSError as error:
                yield Problem(path, *_os_reason(error), True)
                entry = None
            if entry is None:
                stack.pop()
                entries.close()
                continue
            if self._hidden(entry.name):
                continue
            rel = rel_dir + b"/" + entry.name if rel_dir else entry.name
            item = self._entry(rel, entry)
            if item == "folder":
                opened = self._enter(entry.path)
                if isinstance(opened, Problem):
                    yield opened
                else:
                    stack.append((entry.path, rel, opened))
            elif item == "link":
                links.append((entry.path, rel))
            elif item is not None:
                yield item

    def _entry(self, rel: bytes, entry: os.DirEntry[bytes]) -> Candidate | Problem | str | None:
        """A candidate or problem; "folder" or "link" for a folder to walk; None to ignore."""
        path = entry.path
        try:
            link = entry.is_symlink()
            if link and not self.options.follow_symlinks:
                return None
            st = os.stat(path) if link else entry.stat(follow_symlinks=False)
        except OSError as error:
            if link and error.errno == errno.ENOENT:
                return Problem(path, "skipped", "broken symlink")
            if link and error.errno == errno.ELOOP:
                return Problem(path, "skipped", "symlink loop")
            return Problem(path, *_os_reason(error))
        if stat.S_ISDIR(st.st_mode):
            if self.exclude.match(rel):
                return None
            if link and _points_above(path):
                return Problem(path, "skipped", "symlink loop")
            return "link" if link else "folder"
        if not self._wanted_file(rel):
            return None
        if not stat.S_ISREG(st.st_mode):
            return Problem(path, "skipped", f"not a regular file ({file_kind(st.st_mode)})")
        return self.file(path)


def _points_above(link: bytes) -> bool:
    """Whether a folder symlink leads to its own folder or one above it: an endless tree."""
    target = os.path.realpath(link)
    here = os.path.realpath(os.path.dirname(link))
    return here == target or here.startswith(target.rstrip(b"/") + b"/")


def discover(
    roots: Iterable[bytes | str | os.PathLike], options: DiscoveryOptions = DiscoveryOptions()
) -> Iterator[Candidate | Problem]:
    """Yield a ``Candidate`` or a ``Problem`` for every media-looking file under ``roots``.

    Symlinks are followed; a folder is entered once however many links lead to it, and
    a link back up the tree is reported as a loop instead of being walked forever.
    """
    walker = _Walker(options)
    for root in roots:
        yield from walker.root(os.fsencode(root))
