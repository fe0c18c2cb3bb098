"""Transcodes over a real socket: at most `serve.max_transcodes` at once, and a client that
goes away ends its ffmpeg."""

from __future__ import annotations

import contextlib
import os
import socket
import time
from pathlib import Path

import httpx

from tests.serve.conftest import app_for, ffmpeg, live_server, make_catalogue


def ffmpeg_children() -> list[int]:
    """The ffmpeg processes this test process started (the server runs in it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            name, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:]
            if name == "ffmpeg" and int(rest.split()[1]) == os.getpid():
                found.append(int(entry.name))
    return found


@contextlib.contextmanager
def slow_reader(url: str, path: str):
    """A client that asks for `path`, reads the first bytes of the answer and no more while
    the block runs (a tiny receive buffer, so the server cannot send ahead); yields them."""
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect((host, int(port)))
        client.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        yield client.recv(1024)


def wait_until(check, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_one_transcode_too_many_gets_503_and_a_closed_stream_frees_its_slot(tmp_path):
    # 20 minutes of noise: its MP3 (about 11 MB) outlasts the server's socket buffer (at most
    # 4 MB here) behind a client that reads nothing, so the first stream's ffmpeg keeps
    # running while the client holds it.
    long_wma = tmp_path / "long.wma"
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=1200:c=pink:r=44100:a=0.2", "-c:a", "wmav2",
           "-b:a", "64k", str(long_wma))
    catalogue = make_catalogue(f"sqlite:///{tmp_path / 'archivetag.db'}", tmp_path / "data",
                               **{"serve.max_transcodes": 1})
    catalogue.load([{"path": str(long_wma), "start": 0, "end": 10, "caption": "hiss"}])
    try:
        with live_server(app_for(catalogue)) as url, httpx.Client(base_url=url) as client:
            number = client.get("/api/search", params={"q": "hiss", "mode": "keyword"}
                                ).json()["results"][0]["file_id"]
            with slow_reader(url, f"/media/{number}?start=60") as head:
                assert head.startswith(b"HTTP/1.1 200")
                second = client.get(f"/media/{number}")
                assert second.status_code == 503 and second.headers["retry-after"]
            assert wait_until(lambda: not ffmpeg_children())
            with client.stream("GET", f"/media/{number}") as third:
                assert third.status_code == 200
    finally:
        catalogue.database.engine.dispose()
