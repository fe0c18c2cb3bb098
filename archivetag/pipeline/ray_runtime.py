"""Starting and stopping Ray for a run, and ending what a killed run left behind.

A local Ray binds to loopback only. Its processes (GCS, raylet, workers) outlive a driver
killed with -9 and ignore SIGTERM, so each local Ray gets a temp dir derived from the data
dir; the next run (which holds the ingest lock, so no live run can own them) kills every
process whose command line names that dir before it starts its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from archivetag.errors import UserError

LOOPBACK = "127.0.0.1"


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


def leftover_pids(marker: str) -> list[int]:
    """Processes other than this one whose command line contains `marker`."""
    found = []
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue  # gone, or not ours to read
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


@contextmanager
def ray_session(address: str, data_dir: Path, num_gpus: float | None = None) -> Iterator[Cluster]:
    """Ray for the `with` block: joins `address`, or starts a local Ray on loopback."""
    import ray

    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    quiet = {"log_to_driver": False, "logging_level": logging.ERROR, "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **quiet)
            local = False
        else:
            temp_dir = ray_temp_dir(data_dir)
            end_leftovers(temp_dir)
            ray.init(address="local", _node_ip_address=LOOPBACK, include_dashboard=False,
                     _temp_dir=str(temp_dir), num_gpus=num_gpus, **quiet)
            local = True
    except (ConnectionError, RuntimeError, ValueError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise ClusterError(f"cannot start {where}: {str(error).splitlines()[0]}") from None
    try:
        resources = ray.cluster_resources()
        yield Cluster(gpus=resources.get("GPU", 0.0), cpus=resources.get("CPU", 0.0), local=local)
    finally:
        ray.shutdown()
