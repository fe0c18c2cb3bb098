"""A generated archive and a way to run `archivetag ingest` as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

# name -> segments expected with the default 10 s windows (1 s minimum tail)
GOOD_FILES = {
    "speech.wav": 1,
    "tone.mp3": 3,  # 25 s: 10 + 10 + 5
    "noise.flac": 2,  # 12 s: 10 + 2
    "chirp.ogg": 1,  # music-like: a rising sweep with harmonics, 8 s
    "clip.mp4": 2,  # video with sound, 15 s
    "quiet.wav": 1,  # digital silence: one silent segment, never sent to the model
}
BAD_FILES = {  # name -> (status, words in the reason)
    "no_sound.mp4": ("skipped", "no audio stream"),
    "notes.mp3": ("failed", "not a readable MP3 file (invalid header"),
    "empty.wav": ("failed", "not a readable WAV file (0 bytes"),
    "cut.m4a": ("failed", "its index (the MP4 'moov' box) is missing"),
}


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="session")
def archive_template(tmp_path_factory) -> Path:
    """One archive of good and bad files, generated once and copied by each test."""
    root = tmp_path_factory.mktemp("template") / "archive"
    (root / "video").mkdir(parents=True)
    subprocess.run(["espeak-ng", "-w", str(root / "speech.wav"),
                    "the archive keeps every sound it was given"], check=True)
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=25", str(root / "tone.mp3"))
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=12:c=pink:a=0.3", str(root / "noise.flac"))
    ffmpeg("-f", "lavfi", "-i", "aevalsrc=0.3*sin(2*PI*(200+80*t)*t)+0.1*sin(6*PI*(200+80*t)*t):d=8",
           "-c:a", "libvorbis", str(root / "chirp.ogg"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=d=15:s=160x120:r=10", "-f", "lavfi",
           "-i", "sine=frequency=330:duration=15", "-c:v", "libx264", "-preset", "ultrafast",
           "-c:a", "aac", "-shortest", str(root / "video" / "clip.mp4"))
    ffmpeg("-f", "lavfi", "-i", "anullsrc=d=4", str(root / "quiet.wav"))
    ffmpeg("-f", "lavfi", "-i", "testsrc=d=2:s=160x120:r=10", "-c:v", "libx264",
           "-preset", "ultrafast", str(root / "video" / "no_sound.mp4"))
    (root / "notes.mp3").write_text("not audio at all\n")
    (root / "empty.wav").touch()
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=6:a=0.3", "-c:a", "aac", str(root / "whole.m4a"))
    whole = (root / "whole.m4a").read_bytes()
    (root / "cut.m4a").write_bytes(whole[: len(whole) // 2])
    (root / "whole.m4a").unlink()
    return root


@pytest.fixture
def archive(archive_template: Path, tmp_path: Path) -> Path:
    target = tmp_path / "archive"
    shutil.copytree(archive_template, target)
    return target


@dataclass(frozen=True)
class Ingest:
    code: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict:
        """What `--json` prints: the run's summary, alone on stdout."""
        return json.loads(self.stdout)


@pytest.fixture
def ingest(tiny_dir: Path, isolated_environment: Path):
    """Runs `archivetag ingest` in its own process, as cron would."""

    def run(*args: str, fault: str | None = None, env: dict | None = None,
            timeout: float = 240) -> Ingest:
        env = {**os.environ, "ARCHIVETAG_MODEL_ID": str(tiny_dir), **(env or {})}
        if fault:
            env["ARCHIVETAG_FAULT"] = fault
        done = subprocess.run([sys.executable, "-m", "archivetag", "ingest", *args],
                              capture_output=True, text=True, env=env, timeout=timeout)
        return Ingest(done.returncode, done.stdout, done.stderr)

    return run


# -- a catalogue written by the real single writer, without Ray or a model --------------------

KEY = {"model": {"model_id": "test-model", "revision": "r1", "tiny_random_checkpoint": True}}


def tagged_file(path: str, rng, segments: int, caption: str = "{path} sound {index}",
                end_s=None):
    """A file as the pool hands it to the writer: scan segments with a caption, two tags and
    a 384-dim vector. `end_s(index)` overrides a segment's end."""
    from archivetag.ingest.discover import Candidate
    from archivetag.ingest.outcome import Outcome
    from archivetag.pipeline.results import FileResult, TaggedSegment, Window

    tagged = []
    for index in range(segments):
        end = end_s(index) if end_s else index * 10.0 + 10.0
        tagged.append(TaggedSegment(
            Window(index, index * 10.0, end, -20.0, -3.0, False),
            answers={"caption": caption.format(path=path, index=index), "tags": "Dog; Bark"},
            tags=(("Dog", "dog"), ("Bark", "bark")),
            embedding=rng.standard_normal(384).astype("<f2").tobytes(),
            embedded_text_hash=f"{index:064d}"))
    candidate = Candidate(path.encode(), 1000, 1, 0, 0, f"{path}-fingerprint")
    return FileResult(candidate, Outcome("done", decoded_s=10.0 * segments), f"{path}-hash",
                      tuple(tagged))


def store_file(writer, path: str, rng, segments: int) -> int:
    file_id, refused = writer.store(tagged_file(path, rng, segments))
    assert refused is None, refused
    return file_id
