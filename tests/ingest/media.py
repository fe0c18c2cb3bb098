"""Media for the ingest tests (ffmpeg, sox, espeak-ng) and helpers to inspect results."""

import math
import os
import pickle
import struct
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
    for name in ("noise.mp3", "noise.m4a", "noise.flac", "noise_faststart.m4a", "noise_video.mp4",
                 "noise.wav"):
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


# -- media as archives hold it (issue 11): joined parts, many channels, bad samples ------------

# A 50 ms 1 kHz burst 2.5 s into every part: each part of a joined file has its own click.
PART_S = 4
CLICK = (f"aevalsrc='if(between(t,{CLICK_AT_S},{CLICK_AT_S + 0.05}),0.8*sin(2*PI*1000*t),0)'"
         f":d={PART_S}:s=RATE")
GAP_S = 3.0  # the forward gap in gap.ts, on top of the first part's length


def click_source(rate: int = SOURCE_RATE) -> list[str]:
    return ["-f", "lavfi", "-i", CLICK.replace("RATE", str(rate))]


def join(target: Path, *parts: Path) -> None:
    """Byte-wise concatenation, as field recorders, loggers and DVRs write files."""
    with open(target, "wb") as out:
        for part in parts:
            out.write(part.read_bytes())


def write_wav(path: Path, samples: np.ndarray, rate: int, sample_format: str = "<i2") -> None:
    """A WAV without a channel mask (plain WAVE_FORMAT_PCM or IEEE float, no extensible)."""
    frames, channels = samples.shape
    data = samples.astype(sample_format).tobytes()
    code, width = (3, 4) if sample_format == "<f4" else (1, 2)
    header = b"".join([
        b"RIFF", (36 + len(data)).to_bytes(4, "little"), b"WAVEfmt ",
        (16).to_bytes(4, "little"), code.to_bytes(2, "little"), channels.to_bytes(2, "little"),
        rate.to_bytes(4, "little"), (rate * channels * width).to_bytes(4, "little"),
        (channels * width).to_bytes(2, "little"), (8 * width).to_bytes(2, "little"),
        b"data", len(data).to_bytes(4, "little"),
    ])  # fmt: skip
    path.write_bytes(header + data)


def clicks_per_channel(channels: int, rate: int, spacing_s: float) -> tuple[np.ndarray, list]:
    """Channel c alone holds a click at 0.5 + c * spacing_s seconds; returns (int16, times)."""
    times = [0.5 + c * spacing_s for c in range(channels)]
    samples = np.zeros((int((times[-1] + 1) * rate), channels), np.float32)
    burst = 0.8 * np.sin(2 * math.pi * 1000 * np.arange(int(0.05 * rate)) / rate)
    for c, at in enumerate(times):
        samples[int(at * rate) : int(at * rate) + len(burst), c] = burst
    return (samples * 32767).astype(np.int16), times


def sine_with_bad_samples(rate: int = SOURCE_RATE) -> tuple[np.ndarray, dict[float, float]]:
    """4 s of a 440 Hz sine at half scale with NaN twice near 1 s and Inf once near 3 s."""
    samples = (0.5 * np.sin(2 * math.pi * 440 * np.arange(PART_S * rate) / rate))
    samples = samples.astype(np.float32)[:, None]
    bad = {1.0: np.nan, 1.0 + 1 / rate: np.nan, 3.0: np.inf}
    for at, value in bad.items():
        samples[round(at * rate), 0] = value
    return samples, bad


def generate_faithful(d: Path) -> None:
    parts = d / "parts"
    parts.mkdir()
    ffmpeg(*click_source(), str(parts / "a.mp3"))
    ffmpeg(*click_source(22_050), "-b:a", "64k", str(parts / "b.mp3"))
    join(d / "rate_change.mp3", parts / "a.mp3", parts / "b.mp3")
    ffmpeg(*click_source(), "-ac", "6", "-c:a", "ac3", str(parts / "surround.ts"))
    ffmpeg(*click_source(), "-ac", "2", "-c:a", "ac3", str(parts / "stereo.ts"))
    join(d / "layout_change.ts", parts / "surround.ts", parts / "stereo.ts")
    ffmpeg(*click_source(), "-c:a", "libvorbis", str(parts / "a.ogg"))
    ffmpeg(*click_source(22_050), "-c:a", "libvorbis", str(parts / "b.ogg"))
    join(d / "chained.ogg", parts / "a.ogg", parts / "b.ogg")
    ffmpeg(*click_source(), "-c:a", "libopus", str(parts / "a.opus"))
    join(d / "chained.opus", parts / "a.opus", parts / "a.opus")
    # DVR segments: the second restarts its clock 50 s earlier (a jump back) ...
    for name, offset in (("at100", 100), ("at50", 50), ("after_gap", 100 + PART_S + GAP_S)):
        ffmpeg(*click_source(), "-c:a", "mp2", "-output_ts_offset", str(offset),
               str(parts / f"{name}.ts"))  # fmt: skip
    join(d / "jump_back.ts", parts / "at100.ts", parts / "at50.ts")
    ffmpeg("-copyts", "-i", str(d / "jump_back.ts"), "-c", "copy", str(d / "jump_back.mkv"))
    # ... or GAP_S after the first one ends (a forward gap: signal lost for 3 s).
    join(d / "gap.ts", parts / "at100.ts", parts / "after_gap.ts")

    samples, _ = clicks_per_channel(16, 16_000, 0.5)
    write_wav(d / "poly16.wav", samples, 16_000)
    samples, _ = clicks_per_channel(32, 8_000, 0.25)
    write_wav(d / "poly32.wav", samples, 8_000)
    # A quiet hum throughout (-29 dBFS) and the click, in one channel and inverted in the other.
    hum = 0.05 * np.sin(2 * math.pi * 50 * np.arange(PART_S * SOURCE_RATE) / SOURCE_RATE)
    click = hum.astype(np.float32)[:, None]
    at = int(CLICK_AT_S * SOURCE_RATE)
    click[at : at + 2205, 0] = 0.8 * np.sin(2 * math.pi * 1000 * np.arange(2205) / SOURCE_RATE)
    write_wav(d / "inverted_twin.wav", np.hstack([click, -click]) * 32767, SOURCE_RATE)

    samples, _ = sine_with_bad_samples()
    write_wav(d / "bad_samples.wav", samples, SOURCE_RATE, "<f4")
    ffmpeg("-i", str(d / "bad_samples.wav"), "-c:a", "pcm_f32le", str(d / "bad_samples.w64"))
    ffmpeg("-i", str(d / "bad_samples.wav"), "-c:a", "wavpack", str(d / "bad_samples.wv"))
    denormal = np.full((2 * SOURCE_RATE, 1), 1e-40, np.float32)
    write_wav(d / "denormal.wav", denormal, SOURCE_RATE, "<f4")

    sine = ["-f", "lavfi", "-i", "sine=d=3"]
    for name, codec in (("memo.m4a", "aac"), ("memo.wma", "wmav2"), ("memo.mka", "flac"),
                        ("memo.webm", "libopus"), ("memo.ts", "mp2"), ("memo.3gp", "aac")):
        ffmpeg(*sine, "-c:a", codec, str(d / name))
    # Sound 1 s after the picture, in WavPack packets larger than ffmpeg's 32 KiB write buffer.
    ffmpeg("-f", "lavfi", "-i", "testsrc=d=4:s=64x48:r=5", "-itsoffset", "1", *sine,
           "-map", "0", "-map", "1", "-c:v", "libx264", "-ac", "2", "-c:a", "wavpack",
           "-sample_fmt", "s16p", str(d / "delayed_wavpack.mkv"))  # fmt: skip
    # Timestamps on a wrong scale, 5 % fast and 5 % slow: 3 s of samples, 3.15 s and 2.85 s
    # of timestamps (a recorder whose audio clock is not its timestamps' clock).
    for name, scale, source in (("fast_clock.mka", "1.05", "memo.mka"),
                                ("slow_clock.m4a", "0.95", "memo.m4a")):
        ffmpeg("-itsscale", scale, "-i", str(d / source), "-c", "copy", str(d / name))
    ffmpeg(*sine, "-f", "lavfi", "-i", "color=c=red:s=64x64:d=1", "-map", "0", "-map", "1",
           "-frames:v", "1", "-c:v", "mjpeg", "-disposition:v", "attached_pic",
           str(d / "with_cover.mp3"))  # fmt: skip
    recorder = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", *sine, "-c:a", "libopus", "-f", "webm", "-"],
        check=True, capture_output=True)  # fmt: skip
    (d / "recorder.webm").write_bytes(recorder.stdout)  # piped: no duration in the header
    ffmpeg("-f", "lavfi", "-i", "testsrc=d=1:s=64x48:r=5", *sine, "-map", "0", "-map", "1",
           "-c:v", "libx264", "-c:a", "flac", "-frames:a", "0", str(d / "empty_track.mkv"))
    ffmpeg(*sine, "-t", "0", str(d / "empty_data.wav"))
    ffmpeg(*sine, "-c:a", "flac", "-frames:a", "0", str(d / "empty_audio.mka"))  # no Cluster
    empty_mp4_audio(d / "memo.m4a", d / "empty_audio.m4a")
    # A whole MKA cut before its first Cluster (its header states 3 s), and one cut inside
    # its Tracks element.
    memo = (d / "memo.mka").read_bytes()
    (d / "cut_before_samples.mka").write_bytes(memo[: memo.index(bytes.fromhex("1F43B675"))])
    (d / "cut_in_header.mka").write_bytes(memo[: memo.index(bytes.fromhex("1654AE6B")) + 20])
    ffmpeg(*sine, str(parts / "full.wav"))
    # The header says 3 s of samples follow; none do (ffmpeg's WAV header is 78 bytes).
    (d / "header_only.wav").write_bytes((parts / "full.wav").read_bytes()[:78])


def _boxes(data: bytearray, box: tuple[bytes, int, int] | None = None):
    """The ISO BMFF boxes in ``box`` (the whole file when None) as (type, start, end)."""
    at, end = (0, len(data)) if box is None else (box[1] + 8, box[2])
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        yield kind, at, at + size
        at += size


def _box(data: bytearray, parent, kind: bytes) -> tuple[bytes, int, int]:
    return next(b for b in _boxes(data, parent) if b[0] == kind)


def empty_mp4_audio(source: Path, target: Path) -> None:
    """A copy of the MP4 ``source`` whose audio track holds no samples and says so: its
    sample tables list none, its durations are 0, its edit list is gone (ffmpeg's muxer drops
    a track that gets no packet, so such a file cannot be written with ffmpeg)."""
    data = bytearray(source.read_bytes())

    def zero_duration(box, at: int) -> None:  # ``at``: the field's offset in a version 0 box
        wide = data[box[1] + 8] == 1  # version 1 has 64-bit times
        struct.pack_into(">Q" if wide else ">I", data, box[1] + at + 8 * wide, 0)

    moov = _box(data, None, b"moov")
    zero_duration(_box(data, moov, b"mvhd"), 24)
    for trak in (b for b in _boxes(data, moov) if b[0] == b"trak"):
        mdia = _box(data, trak, b"mdia")
        if data[_box(data, mdia, b"hdlr")[1] + 16 :][:4] != b"soun":
            continue
        zero_duration(_box(data, trak, b"tkhd"), 28)
        zero_duration(_box(data, mdia, b"mdhd"), 24)
        edts = next((b for b in _boxes(data, trak) if b[0] == b"edts"), None)
        if edts:
            data[edts[1] + 4 : edts[1] + 8] = b"free"
        stbl = _box(data, _box(data, mdia, b"minf"), b"stbl")
        for kind, count_at in ((b"stts", 12), (b"stsc", 12), (b"stco", 12), (b"stsz", 16)):
            struct.pack_into(">I", data, _box(data, stbl, kind)[1] + count_at, 0)
    target.write_bytes(data)


def reference(path: Path) -> np.ndarray:
    """What plain ffmpeg decodes: the issue's reference for every timeline (mono, 16 kHz)."""
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-ac", "1",
         "-ar", "16000", "-f", "f32le", "-"], check=True, capture_output=True)  # fmt: skip
    return np.frombuffer(done.stdout, "<f4")


def onsets_s(samples: np.ndarray, rate: int = 16_000, quiet_s: float = 0.2) -> list[float]:
    """Onset of every click: a sample reaching a quarter of the loudest after quiet_s of quiet."""
    loud = np.flatnonzero(np.abs(samples) >= 0.25 * np.abs(samples).max())
    starts = loud[np.diff(loud, prepend=-rate) > quiet_s * rate]
    return [int(i) / rate for i in starts]
