"""Every kind of bad file ends in an outcome with a short reason, never an exception."""

import os
import shutil

import numpy as np
import pytest

from archivetag.ingest.decode import DecodeOptions
from archivetag.ingest.discover import Candidate, discover
from archivetag.ingest.outcome import Outcome
from archivetag.ingest.read import ReadOptions, read_file
from archivetag.ingest.segment import Segment, SegmentSettings


def candidate(path) -> Candidate:
    (item,) = discover([path])
    assert isinstance(item, Candidate), item
    return item


def read(path, options: ReadOptions = ReadOptions()) -> tuple[list[Segment], Outcome]:
    return read_candidate(candidate(path), options)


def read_candidate(item: Candidate, options: ReadOptions = ReadOptions()):
    *cut, outcome = read_file(item, options)
    assert isinstance(outcome, Outcome) and all(isinstance(s, Segment) for s in cut)
    return cut, outcome


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("empty.mp3", "failed", "not a readable MP3 file (0 bytes"),
        ("random.wav", "failed", "not a readable WAV file (invalid header"),
        ("random.mp4", "failed", "not a readable MP4 file (invalid header"),
        ("text.mp3", "failed", "not a readable MP3 file (invalid header"),
        ("silent_video.mp4", "skipped", "no audio stream"),
        ("truncated_noise.m4a", "failed", "is missing: the file was cut short or never "
                                          "finished writing"),
        ("truncated_noise_video.mp4", "failed", "the file was cut short or never finished"),
    ],
)
def test_unusable_files(media, name, status, reason):
    cut, outcome = read(media / name)
    assert cut == []
    assert outcome.status == status
    assert reason in outcome.reason and len(outcome.reason) <= 200
    if name.startswith("truncated"):  # a sentence; ffmpeg's words kept apart
        assert "moov atom not found" in outcome.ffmpeg_said and "ffmpeg" not in outcome.reason


@pytest.mark.parametrize(
    "name",
    ["truncated_noise.mp3", "truncated_noise_faststart.m4a", "truncated_noise.flac",
     "truncated_noise.wav"],
)
def test_truncated_files_give_what_decodes_and_a_warning(media, name):
    cut, outcome = read(media / name)
    assert (outcome.status, outcome.reason, outcome.partial) == ("done", None, True)
    assert outcome.warnings[0].startswith("partial: decoded") and len(outcome.warnings[0]) <= 240
    if outcome.ffmpeg_said:  # said in a sentence, ffmpeg's words kept apart
        assert outcome.ffmpeg_said not in outcome.warnings[0], outcome
    assert 1.0 < outcome.decoded_s < 4.0
    assert cut and cut[-1].end_s == pytest.approx(outcome.decoded_s)


@pytest.mark.parametrize(
    ("name", "seconds", "rate", "channels"),
    [
        ("eight_channels_96k.wav", 1.0, 96_000, 8),
        ("mono_8k.wav", 2.0, 8_000, 1),
        ("tenth_second.wav", 0.1, 44_100, 1),
        ("speech.wav", None, 22_050, 1),
    ],
)
def test_unusual_but_healthy_files(media, name, seconds, rate, channels):
    cut, outcome = read(media / name)
    assert (outcome.status, outcome.reason, outcome.partial, outcome.warnings) == (
        "done", None, False, ())  # fmt: skip
    assert (outcome.media.sample_rate, outcome.media.channels) == (rate, channels)
    (segment,) = cut  # all shorter than a window: one segment of their own length
    assert segment.samples.dtype == np.float32
    assert segment.start_s == 0 and not segment.silent
    if seconds:
        assert segment.end_s == pytest.approx(seconds, abs=0.001)


def test_segments_tile_the_file(media):
    cut, outcome = read(media / "click.flac", ReadOptions(segments=SegmentSettings(window_s=2)))
    assert [(s.start_s, s.end_s) for s in cut] == [(0, 2), (2, 4), (4, 6)]
    assert [s.index for s in cut] == [0, 1, 2]
    assert [s.silent for s in cut] == [True, False, True]  # the click is at 2.5 s


def test_file_vanishing_between_scan_and_decode(media, tmp_path):
    path = tmp_path / "gone.wav"
    shutil.copy(media / "click.wav", path)
    item = candidate(path)
    path.unlink()
    assert read_candidate(item) == ([], Outcome("missing", "vanished before it was read"))


def test_file_growing_after_the_scan(media, tmp_path):
    path = tmp_path / "copying.wav"
    shutil.copy(media / "click.wav", path)
    item = candidate(path)
    with open(path, "ab") as out:
        out.write(b"\0" * 4096)
    cut, outcome = read_candidate(item)
    assert cut == [] and outcome.status == "failed"
    assert outcome.reason == "changed since the scan (still being written?)"


def test_file_replaced_by_a_fifo_is_not_opened(media, tmp_path):
    path = tmp_path / "pipe.mp3"
    shutil.copy(media / "click.mp3", path)
    item = candidate(path)
    path.unlink()
    os.mkfifo(path)
    assert read_candidate(item) == ([], Outcome("skipped", "not a regular file (fifo)"))


def test_a_hung_or_slow_ffmpeg_is_stopped(media):
    hurried = ReadOptions(decode=DecodeOptions(timeout_base_s=0.001, min_speed=1e9))
    _, outcome = read(media / "click.wav", hurried)
    assert outcome.status == "failed"
    assert outcome.reason.startswith("ffmpeg stopped after 0 s, hung or too slow")


def test_leaving_early_leaves_no_ffmpeg_behind(media):
    options = ReadOptions(segments=SegmentSettings(window_s=1))
    reading = read_file(candidate(media / "click.flac"), options)
    first = next(reading)
    assert isinstance(first, Segment)
    reading.close()
    children = open(f"/proc/self/task/{os.getpid()}/children").read().split()
    assert children == []
