"""A vanished archive is not an empty archive.

Before the walk: a root that is missing, empty, or on another device than last time, while
the catalogue holds files under it, is refused (an unmounted share looks exactly like
that). After the walk: stored files that were not seen are to be marked missing, except under
folders the walk could not read, and not at all when they are most of the root's files.
This module only decides; the pipeline's single writer (store.py) writes.
`--force` overrides both, for archives that really were deleted or moved to a new disk.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archivetag.errors import UserError
from archivetag.ingest.discover import Candidate, Problem
from archivetag.vocabulary import display_path
from archivetag.storage.schema import MediaFile, Root

MOST = 0.5  # more than this share of a root's files missing at once is taken for an outage
NETWORK_FILESYSTEMS = ("nfs", "nfs4", "cifs", "smb3", "smbfs", "fuse.sshfs", "9p", "afs",
                       "ceph", "glusterfs", "fuse.glusterfs", "lustre")


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem `path` lives on, from /proc/mounts (longest mount prefix)."""
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, kind = "", None
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].encode().decode("unicode_escape")  # /proc/mounts escapes spaces
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) > len(best):
            best, kind = point, fields[2]
    return kind


def network_filesystem_warning(data_dir: Path) -> str | None:
    """SQLite and file locks are unreliable on network filesystems: say so."""
    kind = filesystem_type(data_dir if data_dir.exists() else data_dir.parent)
    if kind in NETWORK_FILESYSTEMS:
        return (f"the data dir {data_dir} is on a network filesystem ({kind}): SQLite and the "
                "ingest lock are unreliable there; use a local data dir, or PostgreSQL (--db)")
    return None


class ArchiveVanished(UserError):
    """A root looks unmounted; nothing was changed."""


def _prefix_range(root: bytes) -> tuple[bytes, bytes]:
    """Every path strictly below `root`, as a byte range (works on BLOB and bytea alike)."""
    base = root.rstrip(b"/") + b"/"
    return base, base[:-1] + b"0"  # "0" is the byte after "/"


def _under(root: bytes):
    low, high = _prefix_range(root)
    return ((MediaFile.path > low) & (MediaFile.path < high) & (MediaFile.status != "missing")
            & MediaFile.fingerprint.is_not(None))  # imported-only files are not the scan's


@dataclass(frozen=True)
class RootsSeen:
    """The end of a walk, as the writer applies it."""

    gone: list[int]  # stored files not found: to be marked missing
    file_counts: dict[bytes, int]  # root -> files present, for the roots that were judged
    refusal: str | None  # why some roots' files were not marked missing


class RootGuard:
    def __init__(self, session: Session, roots: Iterable[bytes], force: bool):
        self.session = session
        self.roots = [os.path.abspath(root) for root in roots]
        self.force = force
        self.hidden: list[bytes] = []  # subtrees the walk could not read

    def _stored_count(self, root: bytes) -> int:
        return self.session.scalar(select(func.count()).select_from(MediaFile).where(_under(root)))

    def check_before_walk(self) -> None:
        for root in self.roots:
            shown = display_path(root)
            try:
                st = os.stat(root)
            except FileNotFoundError:
                st = None
            except OSError as error:
                raise ArchiveVanished(f"{shown}: {error.strerror}") from None
            if st is not None and not os.path.isdir(root):
                continue  # a single file: its own status says whether it is there
            stored = self._stored_count(root)
            if st is None:
                if stored and not self.force:
                    raise ArchiveVanished(
                        f"{shown} is missing (an unmounted share?); its {stored} stored files "
                        "were left as they are. If it was really deleted, rerun with --force")
                if not stored:
                    raise UserError(f"{shown} does not exist")
                continue
            if self.force or not stored:
                continue
            with os.scandir(root) as entries:
                if next(entries, None) is None:
                    raise ArchiveVanished(
                        f"{shown} is empty but {stored} files under it are stored (an unmounted "
                        "share?); nothing was changed. If it was really emptied, rerun with --force")
            known = self.session.scalars(select(Root).where(Root.path == root)).one_or_none()
            if known is not None and known.device is not None and known.device != st.st_dev:
                raise ArchiveVanished(
                    f"{shown} is on another device than at the last scan (a different disk "
                    "mounted there?); nothing was changed. If the archive was moved to a new "
                    "disk, rerun with --force")

    def watch(self, walk: Iterable[Candidate | Problem]) -> Iterator[Candidate | Problem]:
        """Passes the walk through, noting folders whose files must not be taken for gone."""
        for item in walk:
            if isinstance(item, Problem) and item.hides_subtree:
                self.hidden.append(item.path.rstrip(b"/") + b"/")
            yield item

    def after_walk(self, seen_ids: set[int]) -> RootsSeen:
        """Which stored files were not seen, per root; a refusal instead where most were not.

        Only reads: the writer marks the files missing and remembers the roots.
        """
        gone, counts, refusals = [], {}, []
        for root in self.roots:
            if not os.path.isdir(root):
                continue
            stored = self._stored_count(root)
            rows = self.session.execute(select(MediaFile.id, MediaFile.path).where(_under(root)))
            # A file still on disk that the walk did not offer (left out by scan.extensions
            # or scan.exclude since it was stored) is not missing: a prune must not take it.
            unseen = [file_id for file_id, path in rows
                      if file_id not in seen_ids and not path.startswith(tuple(self.hidden))
                      and not os.path.lexists(path)]
            if unseen and len(unseen) > MOST * stored and not self.force:
                refusals.append(
                    f"{len(unseen)} of the {stored} stored files under {display_path(root)} were "
                    "not found (an unmounted share?); they were not marked missing. If they "
                    "were really deleted, rerun with --force")
                continue
            gone += unseen
            counts[root] = stored - len(unseen)
        return RootsSeen(gone, counts, "; ".join(refusals) or None)
