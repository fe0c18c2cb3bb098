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
from dataclasses import dataclass, field
from typing import Literal

from archivetag.config import defaults
from archivetag.ingest.fingerprint import (
    ChangedWhileReading,
    NotRegularFile,
    file_kind,
    fingerprint,
)
from archivetag.ingest.globs import GlobSet
from archivetag.vocabulary import display_path

# Folders that NAS boxes and operating systems fill with thumbnails, trash and metadata.
SYSTEM_FOLDERS = frozenset(
    {b"@eaDir", b"#recycle", b"#snapshot", b"$RECYCLE.BIN", b"RECYCLER",
     b"System Volume Information", b"lost+found", b"__MACOSX"}
)  # fmt: skip


def media_extensions() -> tuple[str, ...]:
    """The default ``scan.extensions``: the one list, kept in default.toml."""
    return tuple(defaults()["scan.extensions"])


@dataclass(frozen=True)
class DiscoveryOptions:
    """What to look at. Globs match paths relative to the root given (see ``globs``)."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    # Names worth probing; empty: let ffprobe judge every file. Default: `scan.extensions`.
    extensions: tuple[str, ...] = field(default_factory=lambda: media_extensions())
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
        self.left_out: collections.Counter[str] = collections.Counter()

    def _hidden(self, name: bytes) -> bool:
        return not self.options.include_hidden and (
            name.startswith(b".") or name in SYSTEM_FOLDERS
        )

    def _selected(self, rel: bytes) -> bool:
        return not self.exclude.match(rel) and (not self.include or self.include.match(rel))

    def _media_name(self, rel: bytes) -> bool:
        """Whether the extension is worth probing; counts the regular files it leaves out."""
        extension = os.path.splitext(rel)[1].lower()
        return not self.extensions or extension in self.extensions

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
        if not self._selected(rel):
            return None
        if not self._media_name(rel):
            if stat.S_ISREG(st.st_mode):
                self.left_out[display_path(os.path.splitext(rel)[1].lower())] += 1
            return None
        if not stat.S_ISREG(st.st_mode):
            return Problem(path, "skipped", f"not a regular file ({file_kind(st.st_mode)})")
        return self.file(path)


def _points_above(link: bytes) -> bool:
    """Whether a folder symlink leads to its own folder or one above it: an endless tree."""
    target = os.path.realpath(link)
    here = os.path.realpath(os.path.dirname(link))
    return here == target or here.startswith(target.rstrip(b"/") + b"/")


class Discovery:
    """The walk: an iterator of ``Candidate`` and ``Problem`` items.

    ``left_out`` counts, by extension (".jpg"; "" for none), the regular files that the
    include and exclude globs take but ``DiscoveryOptions.extensions`` leaves unprobed,
    as far as the walk has come: read it when the iterator is exhausted.
    """

    def __init__(self, roots: Iterable[bytes | str | os.PathLike], options: DiscoveryOptions):
        self._walker = _Walker(options)
        self._items = (item for root in roots for item in self._walker.root(os.fsencode(root)))

    def __iter__(self) -> "Discovery":
        return self

    def __next__(self) -> Candidate | Problem:
        return next(self._items)

    @property
    def left_out(self) -> collections.Counter[str]:
        return self._walker.left_out


def discover(
    roots: Iterable[bytes | str | os.PathLike], options: DiscoveryOptions | None = None
) -> Discovery:
    """Walk ``roots`` for a ``Candidate`` or a ``Problem`` per media-looking file.

    Symlinks are followed; a folder is entered once however many links lead to it, and
    a link back up the tree is reported as a loop instead of being walked forever.
    """
    return Discovery(roots, options or DiscoveryOptions())
