"""Reading archives: decode throughput, memory on long files, fingerprint cost.

    .venv/bin/python bench/decode.py [--workdir DIR] [--keep] [--only SECTION]
                                     [--formats FORMAT ...]

Prints a Markdown report for docs/performance.md ("## Reading archives"). Media is
generated in the work dir (pink noise at 44.1 kHz, mono, stereo and more channels; the
long files are CBR MP3 concatenated byte-wise, so 10 hours cost no encoding) and deleted
afterwards. Throughput is set beside what a user would run instead on the same file,
``ffmpeg -i F -map 0:a:0 -ac 1 -ar 16000 -f f32le - >/dev/null`` (without ``-ac 1`` for
files of more than two channels: ffmpeg then decodes all of them), and beside the same
command writing into ``cat``, which any program that uses the samples pays for: on two cores
the pipe's reader has no core of its own. They are timed in turn so that a busy machine slows
all alike.
"""

import argparse
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from archivetag.ingest.discover import discover
from archivetag.ingest.fingerprint import content_hash, fingerprint
from archivetag.ingest.read import read_file

FORMATS = {  # name: (suffix, extra ffmpeg output args)
    "mp3": ("mp3", ["-c:a", "libmp3lame", "-b:a", "192k"]),
    "aac/m4a": ("m4a", ["-c:a", "aac", "-b:a", "160k"]),
    "flac": ("flac", []),
    "wav": ("wav", []),
    "opus": ("opus", ["-c:a", "libopus", "-b:a", "96k"]),
    "mp4 (h264+aac)": ("mp4", ["-c:a", "aac", "-b:a", "160k"]),
}
CHANNELS = {"mp4 (h264+aac)": (2,)}  # video is slow to encode: stereo only; others 1 and 2
MULTICHANNEL = (("wav", 6), ("flac", 6), ("wav", 16))  # 1 min and 10 min each
VIDEO = ["-f", "lavfi", "-i", "testsrc2=s=640x360:r=25", "-c:v", "libx264",
         "-preset", "veryfast", "-crf", "28"]  # fmt: skip
REPEATS = 5


def ffmpeg(*args) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", *map(str, args)], check=True)


def pink_noise(minutes: float, channels: int = 2) -> list[str]:
    spec = f"anoisesrc=color=pink:amplitude=0.3:sample_rate=44100:duration={minutes * 60}"
    if channels <= 2:
        return ["-f", "lavfi", "-i", spec, "-ac", str(channels)]
    # independent noise in every channel, no layout mask: what a multitrack recorder writes
    inputs = [arg for seed in range(channels)
              for arg in ("-f", "lavfi", "-i", f"{spec}:seed={seed}")]
    return [*inputs, "-filter_complex", f"amerge=inputs={channels}"]


def make_file(workdir: Path, name: str, minutes: int, channels: int) -> Path:
    suffix, codec = FORMATS[name]
    path = workdir / f"{minutes}min-{channels}ch.{suffix}"
    video = [*VIDEO[:3], f"{VIDEO[3]}:d={minutes * 60}", *VIDEO[4:]] if suffix == "mp4" else []
    ffmpeg(*pink_noise(minutes, channels), *video, *codec, "-shortest", path)
    return path


def best_of_each(*runs, repeats: int = REPEATS) -> list[tuple[float, float]]:
    """(best wall time, best CPU time) of each run, the runs taken in turn.

    CPU time is this process's and its children's (ffprobe, ffmpeg, cat): it does not depend
    on what else the machine runs, and is the wall time on a machine with one free core.
    """
    best = [(math.inf, math.inf)] * len(runs)
    for _ in range(repeats):
        for which, run in enumerate(runs):
            cpu, start = _cpu_s(), time.perf_counter()
            run()
            wall, cpu = time.perf_counter() - start, _cpu_s() - cpu
            best[which] = (min(best[which][0], wall), min(best[which][1], cpu))
    return best


def _cpu_s() -> float:
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                          resource.RUSAGE_CHILDREN))
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def best_of(run, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def read_all(path: Path) -> float:
    """Decode and segment ``path`` as the pipeline does; return the decoded seconds.

    BLAS runs one thread, as in the pipeline's Ray tasks (Ray sets OMP_NUM_THREADS to 1
    there): on 16 cores numpy's own default spent 10x ffmpeg's CPU on a 16-channel mix.
    """
    (item,) = discover([path])
    with threadpool_limits(limits=1):
        *_, outcome = read_file(item)
    assert outcome.status == "done" and not outcome.warnings, outcome
    return outcome.decoded_s


def plain_decode(path: Path, channels: int, piped: bool = False) -> None:
    """What a user would run instead: ffmpeg to 16 kHz float, mono up to two channels,
    written to /dev/null or, ``piped``, into ``cat`` (the cost of handing samples on)."""
    mono = ["-ac", "1"] if channels <= 2 else []
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", *mono,
               "-ar", "16000", "-f", "f32le", "-"]  # fmt: skip
    if not piped:
        subprocess.run(command, stdout=subprocess.DEVNULL, check=True)
        return
    with subprocess.Popen(command, stdout=subprocess.PIPE) as decoder:
        subprocess.run(["cat"], stdin=decoder.stdout, stdout=subprocess.DEVNULL, check=True)
        decoder.stdout.close()
    if decoder.returncode:
        raise subprocess.CalledProcessError(decoder.returncode, command)


def throughput(workdir: Path, formats: list[str] | None) -> list[str]:
    rows = ["| format | channels | length | archivetag (x realtime) | plain ffmpeg (x realtime) "
            "| ratio | CPU ratio | plain ffmpeg into a pipe (x realtime) | ratio to it |",
            "|---|---|---|---|---|---|---|---|---|"]
    cases = [(name, channels) for name in FORMATS for channels in CHANNELS.get(name, (1, 2))]
    for name, channels in [*cases, *MULTICHANNEL]:
        if formats and name not in formats:
            continue
        for minutes in (1, 10):
            path = make_file(workdir, name, minutes, channels)
            seconds = read_all(path)
            ours, reference, piped = best_of_each(
                lambda: read_all(path), lambda: plain_decode(path, channels),
                lambda: plain_decode(path, channels, piped=True))
            rows.append(f"| {name} | {channels} | {minutes} min | {seconds / ours[0]:.0f} "
                        f"| {seconds / reference[0]:.0f} | {reference[0] / ours[0]:.2f} "
                        f"| {reference[1] / ours[1]:.2f} | {seconds / piped[0]:.0f} "
                        f"| {piped[0] / ours[0]:.2f} |")  # fmt: skip
            print(rows[-1], file=sys.stderr)
            path.unlink()
    return rows


def long_file(workdir: Path, hours: int, piece: Path) -> Path:
    path = workdir / f"{hours}h.mp3"
    with open(path, "wb") as out:
        for _ in range(hours * 6):
            with open(piece, "rb") as part:
                shutil.copyfileobj(part, out, 1 << 20)
    return path


def memory_child(path: str) -> None:
    """Run in a fresh interpreter: peak RSS of this process above its baseline."""

    def kib(key: str) -> int:
        for line in open("/proc/self/status"):
            if line.startswith(key):
                return int(line.split()[1])
        raise KeyError(key)

    baseline = kib("VmRSS:")
    start = time.perf_counter()
    (item,) = discover([path])
    segments = silent = 0
    outcome = None
    for item_ in read_file(item):
        if hasattr(item_, "samples"):
            segments += 1
            silent += item_.silent
        else:
            outcome = item_
    wall = time.perf_counter() - start
    ffmpeg_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(f"{baseline} {kib('VmHWM:')} {ffmpeg_kib} {wall:.1f} {outcome.decoded_s:.0f} "
          f"{segments} {silent} {outcome.status} {'; '.join(outcome.warnings) or '-'}")  # fmt: skip


def memory(workdir: Path) -> list[str]:
    piece = workdir / "10min-cbr.mp3"
    ffmpeg(*pink_noise(10), "-c:a", "libmp3lame", "-b:a", "128k", "-write_xing", "0",
           "-id3v2_version", "0", piece)  # bare frames: copies concatenate cleanly
    silence = workdir / "1h-silence.flac"
    ffmpeg("-f", "lavfi", "-i", "anullsrc=r=44100:cl=stereo:d=3600", silence)
    rows = ["| file | decoded | wall | x realtime | Python peak RSS above baseline | ffmpeg peak RSS | segments (silent) |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for label, make in (("1 h digital silence (flac)", lambda: silence),
                        ("3 h mp3", lambda: long_file(workdir, 3, piece)),
                        ("10 h mp3", lambda: long_file(workdir, 10, piece))):  # fmt: skip
        path = make()
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(path)],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        base, peak, ff, wall, decoded, segments, silent, status = out[:8]
        assert status == "done" and out[8] == "-", out
        rows.append(
            f"| {label} | {int(decoded) / 3600:.1f} h | {float(wall):.0f} s "
            f"| {int(decoded) / float(wall):.0f} | {(int(peak) - int(base)) / 1024:.1f} MiB "
            f"| {int(ff) / 1024:.0f} MiB | {segments} ({silent}) |"
        )
        print(rows[-1], file=sys.stderr)
        path.unlink()
    piece.unlink()
    return rows


def fingerprints(workdir: Path) -> list[str]:
    path = workdir / "2GB.mkv"
    chunk = os.urandom(1 << 20)
    with open(path, "wb") as out:
        for _ in range(2048):
            out.write(chunk)
    fd = os.open(path, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # evict this file only
    start = time.perf_counter()
    fingerprint(path)
    cold = time.perf_counter() - start
    warm = best_of(lambda: fingerprint(path), repeats=10)
    hashed = best_of(lambda: content_hash(path))
    os.close(fd)
    path.unlink()
    return [
        "| 2 GiB file | time |", "|---|---|",
        f"| fingerprint, warm (best of 10) | {warm * 1000:.2f} ms |",
        f"| fingerprint, first read after evicting the file from the page cache | {cold * 1000:.1f} ms |",
        f"| full content hash (blake2b, streamed), warm | {hashed:.2f} s |",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--only", choices=("throughput", "long", "fingerprint"),
                        help="run one section")
    parser.add_argument("--formats", nargs="+", choices=list(FORMATS),
                        help="throughput rows of these formats only")
    parser.add_argument("--memory-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return
    workdir = Path(tempfile.mkdtemp(prefix="archivetag-bench-", dir=args.workdir))
    chosen = {
        "throughput": (f"Decode throughput, one file at a time (best of {REPEATS})",
                       lambda workdir: throughput(workdir, args.formats)),
        "long": ("Long files", memory),
        "fingerprint": ("Fingerprint", fingerprints),
    }
    try:
        sections = [(title, run(workdir)) for key, (title, run) in chosen.items()
                    if args.only in (None, key)]
    finally:
        if not args.keep:
            shutil.rmtree(workdir)
    for title, rows in sections:
        print(f"\n{title}:\n")
        print("\n".join(rows))


if __name__ == "__main__":
    main()
