import numpy as np
import pytest

from archivetag.ingest.segment import FLOOR_DBFS, SegmentSettings, loudness, segments

RATE = 100  # a small rate keeps the arithmetic readable: 1 s = 100 samples


def spans(seconds: float, block_s: float = 0.37, **settings) -> list[tuple[float, float]]:
    total = round(seconds * RATE)
    block = max(1, round(block_s * RATE))
    audio = np.full(total, 0.5, np.float32)
    blocks = (audio[i : i + block] for i in range(0, total, block))
    return [
        (s.start_s, s.end_s) for s in segments(blocks, SegmentSettings(**settings), rate=RATE)
    ]


@pytest.mark.parametrize(
    ("seconds", "settings", "expected"),
    [
        (30, {}, [(0, 10), (10, 20), (20, 30)]),
        (32.5, {}, [(0, 10), (10, 20), (20, 30), (30, 32.5)]),  # tail >= 1 s stands alone
        (30.5, {}, [(0, 10), (10, 20), (20, 30.5)]),  # short tail joins the last window
        (10.5, {}, [(0, 10.5)]),
        (4, {}, [(0, 4)]),
        (0.1, {}, [(0, 0.1)]),  # shorter than the minimum: one segment of its own length
        (0, {}, []),
        (25, {"window_s": 10, "overlap_s": 5}, [(0, 10), (5, 15), (10, 20), (15, 25)]),
        (27, {"window_s": 10, "overlap_s": 5}, [(0, 10), (5, 15), (10, 20), (15, 25), (20, 27)]),
        (25.5, {"window_s": 10, "overlap_s": 5}, [(0, 10), (5, 15), (10, 20), (15, 25.5)]),
        (7, {"window_s": 3, "min_length_s": 2}, [(0, 3), (3, 7)]),
    ],
)
def test_windows_and_tails(seconds, settings, expected):
    assert spans(seconds, **settings) == expected


def test_block_size_does_not_change_the_cut():
    assert spans(95.3, block_s=0.01) == spans(95.3, block_s=7.0) == spans(95.3, block_s=200)


def test_loudness_and_silence():
    rate = 16_000
    t = np.arange(rate * 3) / rate
    sine = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    quiet = sine * 10 ** (-70 / 20)
    audio = np.concatenate([sine, quiet, np.zeros(rate * 3, np.float32)])
    cut = list(segments([audio], SegmentSettings(window_s=3)))
    assert [s.silent for s in cut] == [False, True, True]
    assert cut[0].peak_dbfs == pytest.approx(-6.02, abs=0.05)
    assert cut[0].rms_dbfs == pytest.approx(-9.03, abs=0.05)
    assert cut[1].rms_dbfs == pytest.approx(-79.03, abs=0.05)
    assert cut[2].rms_dbfs == cut[2].peak_dbfs == FLOOR_DBFS
    assert loudness(np.zeros(0, np.float32)) == (FLOOR_DBFS, FLOOR_DBFS)
    assert cut[0].samples.dtype == np.float32 and len(cut[0].samples) == 3 * rate


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"window_s": 0.5}, "window must be 1 to 60"),
        ({"window_s": 61}, "window must be 1 to 60"),
        ({"overlap_s": 6}, "overlap must be 0 to half"),
        ({"overlap_s": -1}, "overlap must be 0 to half"),
        ({"min_length_s": 0}, "minimum segment length"),
        ({"min_length_s": 11}, "minimum segment length"),
        ({"silence_threshold_dbfs": 3}, "silence threshold"),
    ],
)
def test_settings_are_validated(settings, message):
    with pytest.raises(ValueError, match=message):
        SegmentSettings(**settings)


def test_staleness_values_change_with_every_setting():
    base = SegmentSettings().staleness_values()
    assert base["window_s"] == 10.0 and base["sample_rate"] == 16_000
    for change in ({"window_s": 5}, {"overlap_s": 1}, {"min_length_s": 2},
                   {"silence_threshold_dbfs": -50}):  # fmt: skip
        assert SegmentSettings(**change).staleness_values() != base
