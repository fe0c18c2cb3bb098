"""Fixtures for `archivetag serve`: real media files on disk, a catalogue naming them (built
by annotations import, as tests/index does), and the app over it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.index.conftest import make_catalogue


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def archive(tmp_path_factory) -> Path:
    """A small archive: a 40 s WAV a browser plays as it is, a 40 s WMA it cannot (both a
    tone whose pitch rises with time, so every second sounds different), and a 6 s video."""
    folder = tmp_path_factory.mktemp("archive")
    tone = "aevalsrc='0.3*sin(2*PI*(200+10*t)*t)':d=40:s=22050"
    ffmpeg("-f", "lavfi", "-i", tone, str(folder / "tone.wav"))
    ffmpeg("-f", "lavfi", "-i", tone, "-c:a", "wmav2", "-b:a", "64k", str(folder / "tone.wma"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=d=6:s=160x120:r=10", "-f", "lavfi", "-i", "sine=d=6",
           "-c:v", "libvpx", "-b:v", "100k", "-c:a", "libopus", "-shortest", str(folder / "clip.webm"))
    # Two MP3s of 44.1 and 22.05 kHz joined byte-wise (issue 11), a click 2.5 s into each:
    # on the stored timeline at 2.5 and 14.55 s.
    for name, rate in (("first", 44100), ("second", 22050)):
        ffmpeg("-f", "lavfi", "-i", CLICK.replace("44100", str(rate)), "-b:a", "64k",
               str(folder / f"{name}.mp3"))
    (folder / "rate_change.mp3").write_bytes((folder / "first.mp3").read_bytes()
                                             + (folder / "second.mp3").read_bytes())
    return folder


CLICK = "aevalsrc='if(between(t,2.5,2.55),0.8*sin(2*PI*1000*t),0)':d=12:s=44100"
RATE_CHANGE_CLICK_S = 14.55


def store_what_ingest_read(catalogue, path: Path) -> None:
    """Stores the duration, stated duration and warnings ingest's reading of `path` gives
    (the file is catalogued by import, which does not read it)."""
    from sqlalchemy import update

    from archivetag.ingest.discover import discover
    from archivetag.ingest.read import read_file
    from archivetag.storage.schema import MediaFile

    (*_, outcome) = read_file(next(iter(discover([os.fsencode(path)]))))
    with catalogue.database.sessions() as session:
        session.execute(update(MediaFile).where(MediaFile.path == os.fsencode(path)).values(
            duration=outcome.duration, claimed_duration=outcome.media.duration,
            warnings=list(outcome.warnings)))
        session.commit()


def archive_lines(archive: Path) -> list[dict]:
    wav, wma, webm = (str(archive / name) for name in ("tone.wav", "tone.wma", "clip.webm"))
    return [
        {"path": wav, "start": 0, "end": 10, "caption": "A dog barks repeatedly while a man speaks",
         "tags": ["Dog", "Bark", "Speech"]},
        {"path": wav, "start": 10, "end": 20, "caption": "Heavy rain falls on a tin roof",
         "tags": ["Rain"]},
        {"path": wav, "start": 20, "end": 30, "caption": "A dog howls at night",
         "tags": ["Dog"]},
        {"path": wma, "start": 12, "end": 16, "caption": "Church bells ring in the distance",
         "tags": ["Bell"]},
        {"path": wma, "start": 30, "end": 40, "caption": "A crowd applauds and cheers",
         "tags": ["Applause"]},
        {"path": webm, "start": 1, "end": 4, "caption": "Cars pass by on a busy street",
         "tags": ["Vehicle"]},
    ]


@pytest.fixture
def served(database_url: str, tmp_path: Path, archive: Path):
    """A catalogue of the archive (SQLite and PostgreSQL) and a loopback app over it."""
    made = make_catalogue(database_url, tmp_path / "data")
    made.load(archive_lines(archive))
    yield made
    made.database.engine.dispose()


def app_for(catalogue, host: str = "127.0.0.1", token: str = ""):
    from archivetag.serve.app import make_app
    from archivetag.serve.security import policy_for

    return make_app(catalogue.database, catalogue.settings, policy_for(host, token, []))


@pytest.fixture
def client(served):
    from starlette.testclient import TestClient

    with TestClient(app_for(served), base_url="http://localhost:8765") as test_client:
        yield test_client


@contextlib.contextmanager
def live_server(app):
    """`app` served by uvicorn on a free loopback port in a thread; yields its base URL."""
    import socket
    import threading

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def session_catalogue(tmp_path_factory, archive: Path):
    """One SQLite catalogue of the archive for the session (the browser tests share it)."""
    made = make_catalogue(f"sqlite:///{tmp_path_factory.mktemp('catalogue') / 'archivetag.db'}",
                          tmp_path_factory.mktemp("data"))
    made.load(archive_lines(archive))
    made.load([{"path": str(archive / "rate_change.mp3"), "start": 14, "end": 20,
                "caption": "a click after the rate change"}])
    store_what_ingest_read(made, archive / "rate_change.mp3")
    yield made
    made.database.engine.dispose()


@pytest.fixture(scope="session")
def site(session_catalogue):
    """The session catalogue served by uvicorn on loopback: its base URL."""
    with live_server(app_for(session_catalogue)) as url:
        yield url
