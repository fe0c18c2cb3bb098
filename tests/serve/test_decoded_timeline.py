"""A file whose stored timeline is not its container's clock (issue 11) plays from the
stored second: the transcode seeks in archivetag's own decode, not by container time."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
from starlette.testclient import TestClient

from tests.serve.conftest import CLICK, app_for, ffmpeg, make_catalogue, store_what_ingest_read


def clicks_s(mp3: bytes) -> list[float]:
    """Where the 1 kHz bursts start in an MP3, in seconds."""
    pcm = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", "pipe:0", "-ac", "1",
                          "-ar", "16000", "-f", "f32le", "pipe:1"], input=mp3,
                         capture_output=True, check=True).stdout
    loud = np.flatnonzero(np.abs(np.frombuffer(pcm, np.float32)) > 0.3)
    starts = [loud[0]] + [b for a, b in zip(loud, loud[1:]) if b - a > 1600] if loud.size else []
    return [s / 16000 for s in starts]


@pytest.fixture(scope="module")
def joined(tmp_path_factory):
    """DVR segments joined with a clock jump back (remuxed to MKV, which then states 113 s
    for 24 s of audio), and with a 3 s gap (a rebuilt timeline): clicks 2.5 s into each."""
    folder = tmp_path_factory.mktemp("joined")
    for name, offset in (("at100", 100), ("at50", 50), ("after_gap", 115)):
        ffmpeg("-f", "lavfi", "-i", CLICK, "-c:a", "mp2", "-output_ts_offset", str(offset),
               str(folder / f"{name}.ts"))
    (folder / "jump.ts").write_bytes((folder / "at100.ts").read_bytes()
                                     + (folder / "at50.ts").read_bytes())
    ffmpeg("-copyts", "-i", str(folder / "jump.ts"), "-c", "copy", str(folder / "jump_back.mkv"))
    (folder / "gap.ts").write_bytes((folder / "at100.ts").read_bytes()
                                    + (folder / "after_gap.ts").read_bytes())
    return folder


@pytest.mark.parametrize("name, start, stored_click", [
    ("jump_back.mkv", 14.0, 14.53),  # the second part's click on the stored timeline
    ("gap.ts", 16.0, 17.51),  # after the 3 s gap kept as silence
])
def test_a_transcode_starts_at_the_stored_second(joined, tmp_path, name, start, stored_click):
    path = joined / name
    catalogue = make_catalogue(f"sqlite:///{tmp_path / 'archivetag.db'}", tmp_path / "data")
    catalogue.load([{"path": str(path), "start": 10, "end": 20, "caption": "a click"}])
    store_what_ingest_read(catalogue, path)
    try:
        with TestClient(app_for(catalogue), base_url="http://localhost") as client:
            hit = client.get("/api/search", params={"q": "click", "mode": "keyword"}
                             ).json()["results"][0]
            assert hit["transcoded"] is True
            played = client.get(f"/media/{hit['file_id']}", params={"start": start})
            assert played.headers["content-type"] == "audio/mpeg"
            heard = clicks_s(played.content)
            assert heard and heard[0] == pytest.approx(stored_click - start, abs=0.1)
    finally:
        catalogue.database.engine.dispose()
