"""Segment times are playback positions: priming and start offsets do not shift them."""

import os
import threading

import numpy as np
import pytest

from archivetag.ingest.decode import GUESS, DecodePlan, PcmStream
from archivetag.ingest.discover import discover
from archivetag.ingest.probe import MediaInfo, StreamChoice, choose_stream, probe
from archivetag.ingest.read import ReadOptions, read_file

from .media import CLICK_AT_S, onset_s

TOLERANCE_S = 0.05


@pytest.mark.parametrize(
    ("name", "click_s"),
    [
        ("click.wav", CLICK_AT_S),
        ("click.flac", CLICK_AT_S),
        ("click.mp3", CLICK_AT_S),  # LAME priming, container start 0.025 s
        ("click.m4a", CLICK_AT_S),  # AAC priming behind an edit list
        ("click.aac", CLICK_AT_S),  # raw ADTS: priming not signalled, ~23 ms
        ("click.opus", CLICK_AT_S),  # Opus pre-skip
        ("click.ts", CLICK_AT_S),  # MPEG-TS starts at 1.4 s
        ("offset.ts", CLICK_AT_S),  # ... or at 10 s
        ("video.mp4", CLICK_AT_S),
        ("delayed.mp4", CLICK_AT_S + 1.0),  # sound starts 1 s after the picture
    ],
)
def test_click_lands_at_its_playback_time(media, name, click_s):
    (item,) = discover([media / name])
    *cut, outcome = read_file(item)
    assert (outcome.status, outcome.warnings) == ("done", ()), outcome  # no clock drift
    assert onset_s(np.concatenate([s.samples for s in cut])) == pytest.approx(
        click_s, abs=TOLERANCE_S
    )


def test_stream_choice(media):
    path = media / "two_languages.mkv"
    default = probe(path)
    assert isinstance(default, MediaInfo)
    assert (default.audio_streams, default.stream_index, default.language) == (2, 1, "fra")
    assert probe(path, StreamChoice(language="eng")).stream_index == 0
    assert probe(path, StreamChoice(index=0)).stream_index == 0
    assert probe(path, StreamChoice(index=7)).stream_index == 1  # falls back to the default
    with pytest.raises(ValueError, match="0 or more"):
        StreamChoice(index=-1)


def test_choose_stream_without_default_or_language_takes_the_first():
    streams = [{"index": 3}, {"index": 5, "tags": {"language": "ger"}}]
    assert choose_stream(streams, StreamChoice())["index"] == 3
    assert choose_stream(streams, StreamChoice(language="GER"))["index"] == 5


def test_probe_reports_container_codec_and_offsets(media):
    info = probe(media / "click.ts")
    assert (info.container, info.codec, info.channels) == ("mpegts", "mp2", 1)
    assert info.start_time == pytest.approx(1.4)
    assert info.duration == pytest.approx(6.0, abs=0.05)


def test_ffmpeg_blocked_on_a_fifo_is_killed(tmp_path):
    fifo = tmp_path / "never.mp3"
    os.mkfifo(fifo)  # ffmpeg waits forever for a writer: only the watchdog ends it
    with PcmStream(os.fsencode(fifo), GUESS, timeout_s=0.5) as stream:
        assert list(stream) == []
    assert stream.end.timed_out and stream.end.samples == 0


def test_a_slow_consumer_is_not_taken_for_a_hung_ffmpeg(media):
    """Backpressure: time spent between blocks does not count against ffmpeg."""
    path = media / "click.wav"
    with PcmStream(os.fsencode(path), DecodePlan.of(probe(path)), timeout_s=0.3) as stream:
        blocks = []
        for block in stream:
            blocks.append(block)
            threading.Event().wait(0.4)  # longer than the whole timeout, every block
    assert not stream.end.timed_out and stream.end.returncode == 0
    assert sum(map(len, blocks)) == 6 * 16_000


def test_the_stream_ffmpeg_starts_on_is_replaced_when_the_probe_chooses_another(media):
    """ffmpeg starts on the first audio stream while ffprobe runs (read._start)."""
    (item,) = discover([media / "two_languages.mkv"])
    *default, _ = read_file(item)  # the French stream is the default: a steady 300 Hz tone
    assert all(not s.silent for s in default)
    options = ReadOptions(stream=StreamChoice(language="eng"))
    *english, _ = read_file(item, options)  # the first stream: silence and the click
    assert onset_s(np.concatenate([s.samples for s in english])) == pytest.approx(
        CLICK_AT_S, abs=TOLERANCE_S)
    first_second = slice(0, 16_000)
    assert np.abs(english[0].samples[first_second]).max() == 0
    assert np.abs(default[0].samples[first_second]).max() > 0.1
