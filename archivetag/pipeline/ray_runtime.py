"""Starting and stopping Ray for a run, and ending what a killed run left behind.

A local Ray binds to loopback only. Its processes (GCS, raylet, workers) outlive a driver
killed with -9 and ignore SIGTERM, so each local Ray gets a temp dir derived from the data
dir. Ray's processes rename themselves (overwriting their command line and environment), but
each keeps log files open in that dir: the next run, which holds the catalogue lock so no
live run can own them, kills every process whose command line or open files name the dir
before it starts its own Ray.

The temp dir (Ray's session folder: logs and sockets, 0.5-2 MB a run) stays under /tmp,
since AF_UNIX socket paths are limited to 107 bytes, and is removed at the end of each run; a
killed run's is removed by the next one. What the replicas wrote on stderr (their tracebacks)
is kept first under the data dir's logs/ray: the last KEPT_RUNS runs, KEPT_BYTES at most.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import shutil
import signal
import time
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from archivetag.errors import UserError

LOOPBACK = "127.0.0.1"
KEPT_RUNS = 10  # runs whose replica error logs are kept in the data dir
KEPT_BYTES = 50 * 2**20  # all kept replica error logs together


class ClusterError(UserError):
    """Ray could not be started or joined."""


@dataclass(frozen=True)
class Cluster:
    """What the run may ask of Ray."""

    gpus: float
    cpus: float
    local: bool


def ray_temp_dir(data_dir: Path) -> Path:
    """Short (unix socket paths are limited to ~107 bytes) and unique per data dir."""
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:10]
    return Path("/tmp") / f"archivetag-ray-{os.getuid()}-{digest}"


def _names(process: Path, marker: str) -> bool:
    if marker.encode() in (process / "cmdline").read_bytes():
        return True
    for descriptor in (process / "fd").iterdir():
        try:
            if os.readlink(descriptor).startswith(marker):
                return True
        except OSError:
            continue
    return False


def leftover_pids(marker: str) -> list[int]:
    """Processes other than this one whose command line or open files name `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if _names(entry, marker):
                found.append(int(entry.name))
        except OSError:
            continue  # gone, a zombie, or not ours to read
    return found


def end_leftovers(temp_dir: Path, wait_s: float = 5.0) -> int:
    """Kills what an earlier, killed run of this data dir left running; returns the count."""
    pids = leftover_pids(str(temp_dir))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + wait_s
    while pids and time.monotonic() < deadline and leftover_pids(str(temp_dir)):
        time.sleep(0.05)
    return len(pids)


def keep_error_logs(temp_dir: Path, logs_dir: Path) -> Path | None:
    """Copies the non-empty stderr files of Ray's workers (`*.err`: a replica's traceback
    lands there) into a new folder of `logs_dir`, then trims `logs_dir` to the newest
    KEPT_RUNS folders and KEPT_BYTES; returns the new folder, None when there was nothing."""
    errors = [path for path in temp_dir.glob("session_*/logs/*.err")
              if not path.is_symlink() and path.stat().st_size > 0]
    if not errors:
        return None
    target = logs_dir / time.strftime(f"%Y%m%dT%H%M%S-{os.getpid()}")
    target.mkdir(parents=True, exist_ok=True)
    for path in errors:
        with open(path, "rb") as source, open(target / path.name, "wb") as copy:
            source.seek(max(0, path.stat().st_size - KEPT_BYTES // KEPT_RUNS))  # the end
            shutil.copyfileobj(source, copy)
    runs = sorted((p for p in logs_dir.iterdir() if p.is_dir()), reverse=True)
    total = 0
    for number, run in enumerate(runs):
        total += sum(f.stat().st_size for f in run.iterdir())
        if number >= KEPT_RUNS or (total > KEPT_BYTES and run != target):
            shutil.rmtree(run, ignore_errors=True)
    return target


def remove_session_folder(temp_dir: Path) -> None:
    """Ends what still runs from `temp_dir` and removes it."""
    end_leftovers(temp_dir)
    shutil.rmtree(temp_dir, ignore_errors=True)


class _Messages(io.TextIOBase):
    """Stands in for stdout while Ray runs: Ray prints its workers' deaths there, which the
    driver handles itself, and stdout belongs to the command's own output (--json, -q)."""

    def __init__(self, on_line: Callable[[str], None]):
        self.on_line = on_line
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.strip():
                self.on_line(line)
        return len(text)


@contextmanager
def ray_session(address: str, data_dir: Path, num_gpus: float | None = None,
                on_message: Callable[[str], None] = lambda line: None) -> Iterator[Cluster]:
    """Ray for the `with` block: joins `address`, or starts a local Ray on loopback.

    What Ray prints on stdout meanwhile goes to `on_message` instead.
    """
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR, "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **quiet)
            local = False
        else:
            temp_dir = ray_temp_dir(data_dir)
            remove_session_folder(temp_dir)  # a killed run's
            ray.init(address="local", _node_ip_address=LOOPBACK, include_dashboard=False,
                     _temp_dir=str(temp_dir), num_gpus=num_gpus, **quiet)
            local = True
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise ClusterError(f"cannot start {where}: {str(error).splitlines()[0]}") from None
    with redirect_stdout(_Messages(on_message)):
        try:
            resources = ray.cluster_resources()
            yield Cluster(gpus=resources.get("GPU", 0.0), cpus=resources.get("CPU", 0.0),
                          local=local)
        finally:
            ray.shutdown()
            if local:
                end_leftovers(temp_dir)  # Ray's agents linger for a minute after a shutdown
                keep_error_logs(temp_dir, data_dir / "logs" / "ray")
                remove_session_folder(temp_dir)
