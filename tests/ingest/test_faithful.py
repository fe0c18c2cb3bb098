"""What is recorded is what is in the file (issue 11): the playback timeline, every channel that
carries sound, every sample, the decoded length and the media type, for media as archives
hold it. Media from ``media.generate_faithful``; times checked against plain ffmpeg."""

import numpy as np
import pytest

from archivetag.ingest.read import FORMAT_CHANGES, ReadOptions
from archivetag.ingest.segment import SegmentSettings

from .media import (
    CLICK_AT_S,
    GAP_S,
    PART_S,
    clicks_per_channel,
    onsets_s,
    reference,
    sine_with_bad_samples,
)
from .test_read import candidate, read

TOLERANCE_S = 0.05


def audio(cut) -> np.ndarray:
    return np.concatenate([s.samples for s in cut])


@pytest.mark.parametrize(
    "name",
    [
        "rate_change.mp3",  # 44.1 kHz then 22.05 kHz: two MP3s joined byte-wise
        "layout_change.ts",  # 5.1 then 2.0 AC-3 in MPEG-TS
        "chained.ogg",  # two Vorbis links at different rates
        "chained.opus",  # two Opus links
        "jump_back.ts",  # DVR segments joined: the clock jumps back 50 s
        "jump_back.mkv",  # the same remuxed with its timestamps
    ],
)
def test_joined_parts_keep_the_plain_timeline(faithful, name):
    cut, outcome = read(faithful / name)
    assert outcome.status == "done" and not outcome.partial, outcome
    expected = onsets_s(reference(faithful / name))
    assert len(expected) == 2
    assert onsets_s(audio(cut)) == pytest.approx(expected, abs=TOLERANCE_S)
    assert expected[0] == pytest.approx(CLICK_AT_S, abs=TOLERANCE_S)
    assert outcome.decoded_s == pytest.approx(2 * PART_S, abs=0.1)  # nothing added
    assert not any("timeline" in w for w in outcome.warnings)
    said = [w for w in outcome.warnings if w.startswith(FORMAT_CHANGES)]
    changes = {"rate_change.mp3": "44100 Hz mono, then 22050 Hz mono",
               "layout_change.ts": "5.1(side), then 44100 Hz stereo",
               "chained.ogg": "44100 Hz mono, then 22050 Hz mono"}  # Opus is 48 kHz throughout
    assert len(said) == (name in changes) and all(changes[name] in w for w in said), said


def test_a_forward_gap_in_the_timestamps_is_kept_as_silence(faithful):
    cut, outcome = read(faithful / "gap.ts")
    first, second = onsets_s(audio(cut))
    assert first == pytest.approx(CLICK_AT_S, abs=TOLERANCE_S)
    assert second - first == pytest.approx(PART_S + GAP_S, abs=TOLERANCE_S)
    (warning,) = outcome.warnings
    assert warning.startswith("timeline rebuilt: the timestamps run 2.9")
    assert not outcome.partial


@pytest.mark.parametrize(
    ("name", "warning"),
    [
        ("fast_clock.mka", "the timestamps run 0.15 s ahead of the samples"),
        ("slow_clock.m4a", "the timestamps run 0.15 s behind the samples"),
        ("jump_back.mkv", "the timestamps run 4.02 s behind the samples"),  # jumps back 50 s
    ],
)
def test_timestamps_drifting_from_the_samples_get_a_warning(faithful, name, warning):
    cut, outcome = read(faithful / name)
    assert outcome.warnings == (f"timestamps and samples disagree: by the end {warning}; "
                                f"segment times follow the samples",)
    assert onsets_s(audio(cut)) == pytest.approx(onsets_s(reference(faithful / name)),
                                                 abs=TOLERANCE_S)
    assert not outcome.partial


@pytest.mark.parametrize(("name", "rate", "spacing_s"),
                         [("poly16.wav", 16_000, 0.5), ("poly32.wav", 8_000, 0.25)])
def test_every_channel_of_a_layout_without_mask_reaches_the_mix(faithful, name, rate, spacing_s):
    channels = int(name[4:6])
    cut, outcome = read(faithful / name, ReadOptions(segments=SegmentSettings(window_s=1)))
    assert (outcome.status, outcome.warnings, outcome.media.channels) == ("done", (), channels)
    _, times = clicks_per_channel(channels, rate, spacing_s)
    assert onsets_s(audio(cut), quiet_s=0.1) == pytest.approx(times, abs=TOLERANCE_S)
    assert not any(s.silent for s in cut if s.start_s < times[-1])


def test_the_pipeline_mixes_many_channels_on_one_blas_thread(faithful):
    """Outside Ray (and inside, where OMP_NUM_THREADS is set) numpy's BLAS has a thread
    per core; the decode holds it to one while it runs."""
    from threadpoolctl import threadpool_info

    from archivetag.pipeline.decoding import SegmentAudio, read_for_tagging

    threads = []
    for item in read_for_tagging(0, candidate(faithful / "poly16.wav"), ReadOptions()):
        if isinstance(item, SegmentAudio):
            threads.append({lib["num_threads"] for lib in threadpool_info()
                            if lib["user_api"] == "blas"})
    assert threads and all(seen == {1} for seen in threads)


def test_an_inverted_twin_does_not_cancel_the_sound(faithful):
    assert np.abs(reference(faithful / "inverted_twin.wav")).max() < 1e-3  # plain mix: nothing
    cut, outcome = read(faithful / "inverted_twin.wav")
    assert onsets_s(audio(cut)) == pytest.approx([CLICK_AT_S], abs=TOLERANCE_S)
    assert not cut[0].silent and cut[0].peak_dbfs > -3
    (warning,) = outcome.warnings
    assert warning.startswith("channels cancel each other in the mix")
    assert "channel 1 used alone for 4.0 s" in warning


@pytest.mark.parametrize("name", ["bad_samples.wav", "bad_samples.w64", "bad_samples.wv"])
def test_non_finite_samples_are_replaced_before_resampling(faithful, name):
    cut, outcome = read(faithful / name, ReadOptions(segments=SegmentSettings(window_s=1)))
    assert outcome.media.float_samples
    samples = audio(cut)
    assert np.isfinite(samples).all()
    _, bad = sine_with_bad_samples()
    assert outcome.warnings == (f"{len(bad)} non-finite samples (NaN or Inf) replaced by silence",)
    assert not any(s.silent for s in cut)
    for at in bad:  # the sine goes on around each replaced sample: nothing smeared
        around = samples[round(at * 16_000) - 80 : round(at * 16_000) + 80]
        assert np.abs(around).max() == pytest.approx(0.5, abs=0.05)


def test_denormal_samples_are_silence_and_no_fault(faithful):
    cut, outcome = read(faithful / "denormal.wav")
    assert (outcome.status, outcome.warnings) == ("done", ())
    assert all(s.silent for s in cut)


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("memo.m4a", "audio"),
        ("memo.wma", "audio"),
        ("memo.mka", "audio"),
        ("memo.webm", "audio"),
        ("memo.ts", "audio"),
        ("memo.3gp", "audio"),
        ("with_cover.mp3", "audio"),  # cover art is a picture, not video
        ("empty_track.mkv", "video"),
    ],
)
def test_media_type_comes_from_the_streams(faithful, name, media_type):
    _, outcome = read(faithful / name)
    assert outcome.media.media_type == media_type


@pytest.mark.parametrize(
    "name",
    ["memo.m4a", "memo.wma", "memo.mka", "memo.webm", "memo.ts", "memo.3gp", "with_cover.mp3",
     "delayed_wavpack.mkv"],  # WMA: its timestamps start 92 ms after its samples
)
def test_healthy_files_get_no_warning(faithful, name):
    _, outcome = read(faithful / name)
    assert (outcome.status, outcome.warnings) == ("done", ())


def test_a_recording_without_a_stated_duration_gets_the_decoded_one(faithful):
    cut, outcome = read(faithful / "recorder.webm")
    assert outcome.media.duration is None
    assert (outcome.status, outcome.partial, outcome.warnings) == ("done", False, ())
    assert outcome.decoded_s == pytest.approx(3.0, abs=0.03)
    assert cut[-1].end_s == pytest.approx(outcome.decoded_s)


@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("empty_track.mkv", "skipped", "audio stream is empty"),  # beside a video track
        ("empty_audio.mka", "skipped", "audio stream is empty"),  # alone: ffprobe cannot open it
        ("empty_audio.m4a", "skipped", "audio stream is empty"),
        ("empty_data.wav", "skipped", "audio stream is empty"),
        ("header_only.wav", "failed", "the header promises 3.0 s of audio that is not in the file"),
        ("cut_before_samples.mka", "failed",
         "the header promises 3.0 s of audio that is not in the file"),
        ("cut_in_header.mka", "failed", "damaged media: "),
    ],
)
def test_an_empty_audio_stream_is_skipped_and_missing_audio_fails(faithful, name, status, reason):
    cut, outcome = read(faithful / name)
    assert (cut, outcome.status) == ([], status)
    assert outcome.reason.startswith(reason)
