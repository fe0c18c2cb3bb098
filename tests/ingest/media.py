"""Media for the ingest tests (ffmpeg, sox, espeak-ng) and helpers to inspect results."""

import math
import os
import pickle
import subprocess
import wave
from pathlib import Path

import numpy as np

CLICK_AT_S = 2.5  # where the tone burst starts in the source, in seconds of playback
SOURCE_RATE = 44_100


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *args], check=True)


def write_click_wav(path: Path, seconds: float = 6.0) -> None:
    """Silence with a 30 ms 1 kHz burst at CLICK_AT_S: a sharp onset to time."""
    samples = np.zeros(int(seconds * SOURCE_RATE), np.float32)
    at = int(CLICK_AT_S * SOURCE_RATE)
    burst = np.arange(int(0.03 * SOURCE_RATE))
    samples[at : at + len(burst)] = 0.8 * np.sin(2 * math.pi * 1000 * burst / SOURCE_RATE)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SOURCE_RATE)
        out.writeframes((samples * 32767).astype("<i2").tobytes())


def truncate_copy(source: Path, target: Path, fraction: float = 0.5) -> None:
    data = source.read_bytes()
    target.write_bytes(data[: int(len(data) * fraction)])


def generate(d: Path) -> None:
    click = d / "click.wav"
    write_click_wav(click)
    # Encoder priming: LAME, AAC in MP4 (edit list), Opus (pre-skip), raw ADTS.
    ffmpeg("-i", str(click), "-c:a", "libmp3lame", "-b:a", "128k", str(d / "click.mp3"))
    ffmpeg("-i", str(click), "-c:a", "aac", str(d / "click.m4a"))
    ffmpeg("-i", str(click), "-c:a", "libopus", str(d / "click.opus"))
    ffmpeg("-i", str(click), "-c:a", "aac", "-f", "adts", str(d / "click.aac"))
    ffmpeg("-i", str(click), str(d / "click.flac"))
    # Container start offsets: MPEG-TS starts at 1.4 s by default, this one at 10 s.
    ffmpeg("-i", str(click), "-c:a", "mp2", str(d / "click.ts"))
    ffmpeg("-i", str(click), "-c:a", "mp2", "-output_ts_offset", "10", str(d / "offset.ts"))
    # Video whose sound starts 1 s after the picture: the click plays at 3.5 s.
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=d=7:s=160x120:r=10", "-itsoffset", "1", "-i", str(click),
        "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
        str(d / "delayed.mp4"),
    )  # fmt: skip
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=d=6:s=160x120:r=10", "-i", str(click),
        "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", str(d / "video.mp4"),
    )  # fmt: skip
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=d=2:s=160x120:r=10", "-c:v", "libx264",
        "-preset", "ultrafast", str(d / "silent_video.mp4"),
    )  # fmt: skip
    ffmpeg("-i", str(click), "-c:a", "aac", "-movflags", "+faststart", str(d / "faststart.m4a"))
    # Two audio streams: English (not default) and French (default).
    ffmpeg(
        "-i", str(click), "-f", "lavfi", "-i", "sine=f=300:d=6",
        "-map", "0:a", "-map", "1:a", "-c:a", "flac",
        "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra",
        "-disposition:a:0", "0", "-disposition:a:1", "default", str(d / "two_languages.mkv"),
    )  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=1:sample_rate=96000", "-ac", "8",
           "-c:a", "pcm_s24le", str(d / "eight_channels_96k.wav"))  # fmt: skip
    ffmpeg("-f", "lavfi", "-i", "sine=f=440:d=0.1", str(d / "tenth_second.wav"))
    subprocess.run(["sox", "-n", "-r", "8000", "-c", "1", str(d / "mono_8k.wav"),
                    "synth", "2", "sine", "440"], check=True)  # fmt: skip
    subprocess.run(["espeak-ng", "-w", str(d / "speech.wav"), "archive test"], check=True)
    # Truncated copies of busy audio (silence would compress into the first bytes).
    ffmpeg("-f", "lavfi", "-i", "anoisesrc=d=6:a=0.3", "-ar", "44100", str(d / "noise.wav"))
    for suffix in ("mp3", "m4a", "flac"):
        ffmpeg("-i", str(d / "noise.wav"), str(d / f"noise.{suffix}"))
    ffmpeg("-i", str(d / "noise.wav"), "-movflags", "+faststart", str(d / "noise_faststart.m4a"))
    ffmpeg(
        "-f", "lavfi", "-i", "testsrc=d=6:s=160x120:r=10", "-i", str(d / "noise.wav"),
        "-c:v", "libx264", "-preset", "ultrafast", str(d / "noise_video.mp4"),
    )  # fmt: skip
    for name in ("noise.mp3", "noise.m4a", "noise.flac", "noise_faststart.m4a", "noise_video.mp4"):
        truncate_copy(d / name, d / f"truncated_{name}")
    rng = np.random.default_rng(4)
    (d / "random.wav").write_bytes(rng.bytes(40_000))
    (d / "random.mp4").write_bytes(rng.bytes(40_000))
    (d / "text.mp3").write_text("These are liner notes, not audio.\n" * 20)
    (d / "empty.mp3").write_bytes(b"")


def onset_s(samples: np.ndarray, rate: int = 16_000) -> float:
    """Time of the first sample reaching a quarter of the loudest: the click's onset."""
    level = np.abs(samples)
    return int(np.argmax(level >= 0.25 * level.max())) / rate


def as_unprivileged(function, *args):
    """Run ``function(*args)`` in a child that cannot read what only root may (CI runs as root).

    Returns its result; the child drops to ``nobody`` when started as root.
    """
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        status = 0
        try:
            os.close(reader)
            if os.geteuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            payload = pickle.dumps(("ok", function(*args)))
        except BaseException as error:  # report anything to the parent, never unwind pytest
            payload = pickle.dumps(("error", repr(error)))
            status = 1
        with os.fdopen(writer, "wb") as out:
            out.write(payload)
        os._exit(status)
    os.close(writer)
    with os.fdopen(reader, "rb") as pipe:
        kind, value = pickle.loads(pipe.read())
    os.waitpid(pid, 0)
    assert kind == "ok", value
    return value
