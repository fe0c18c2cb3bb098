"""Shared fixtures: an isolated environment per test, the real CLI, and a real PostgreSQL server.

The PostgreSQL server is started once per session with the Debian server binaries (initdb +
pg_ctl on loopback, in a temp dir, as an unprivileged user because the server refuses root).
Where the binaries are missing the PostgreSQL leg is skipped, loudly, except under CI, where
that is a failure.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

_postgres_skipped: list[str] = []
TINY_SEED = 7


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No user config, data dir or ARCHIVETAG_* variable of the machine leaks into a test."""
    for name in list(os.environ):
        if name.startswith("ARCHIVETAG_"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("ARCHIVETAG_HOME", str(tmp_path / "archivetag-data"))
    monkeypatch.setenv("COLUMNS", "200")
    return tmp_path / "archivetag-data"


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    """Runs `archivetag ARGS…` in this process, through the same entry point as the command."""
    from archivetag.cli import main

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["archivetag", *args])
        try:
            main()
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        out = capsys.readouterr()
        return CliResult(code, out.out, out.err)

    return run


def _postgres_bindir() -> Path | None:
    candidates = []
    if shutil.which("pg_config"):
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    return None


def _unprivileged_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    raise RuntimeError("running as root, and neither user 'postgres' nor 'nobody' exists")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class PostgresServer:
    host: str
    port: int
    user: str

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql+psycopg://{self.user}{secret}@{self.host}:{self.port}/{database}"


@pytest.fixture(scope="session")
def postgres_server():
    bindir = _postgres_bindir()
    if bindir is None:
        message = "PostgreSQL server binaries not found (install Debian's postgresql)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the PostgreSQL leg")
        _postgres_skipped.append(message)
        pytest.skip(f"PostgreSQL leg SKIPPED: {message}")
    user = _unprivileged_user()
    base = Path(tempfile.mkdtemp(prefix="archivetag-pg-"))
    if user is not None:
        os.chown(base, user.pw_uid, user.pw_gid)

    def as_server_user() -> None:
        if user is not None:
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)

    def run(*command: str) -> None:
        subprocess.run(command, check=True, capture_output=True, preexec_fn=as_server_user,
                       cwd=base, timeout=120)

    port = _free_port()
    run(str(bindir / "initdb"), "-D", str(base / "data"), "-U", "archivetag",
        "--auth=trust", "--no-locale", "-E", "UTF8")
    run(str(bindir / "pg_ctl"), "-D", str(base / "data"), "-l", str(base / "server.log"), "-w",
        "-o", f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
              "-c synchronous_commit=off -c full_page_writes=off", "start")
    try:
        yield PostgresServer(host="127.0.0.1", port=port, user="archivetag")
    finally:
        subprocess.run([str(bindir / "pg_ctl"), "-D", str(base / "data"), "-m", "immediate",
                        "stop"], capture_output=True, preexec_fn=as_server_user, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer):
    """A fresh, empty database on the session's server, dropped after the test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = f"host={postgres_server.host} port={postgres_server.port} user={postgres_server.user} dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalogue' / 'archivetag.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test on a SQLite file and on the real PostgreSQL server."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return request.getfixturevalue(fixture)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if _postgres_skipped:
        terminalreporter.write_sep("!", "POSTGRESQL TESTS WERE SKIPPED", red=True, bold=True)
        terminalreporter.write_line(_postgres_skipped[0], red=True)


# -- the tiny random MiDashengLM checkpoint, written once per session --------------------------


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    from archivetag.tagger.midashenglm.tiny import make_tiny

    return make_tiny(tmp_path_factory.mktemp("tiny") / "single", seed=TINY_SEED)


@pytest.fixture(scope="session")
def tiny_sharded_dir(tmp_path_factory):
    from archivetag.tagger.midashenglm.tiny import make_tiny

    return make_tiny(tmp_path_factory.mktemp("tiny") / "sharded", sharded=True, seed=TINY_SEED)


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    """The tiny checkpoint loaded in fp32 on the CPU; tests must not modify it."""
    from archivetag.tagger.midashenglm.loader import load_model

    return load_model(tiny_dir, dtype="float32", device="cpu")
