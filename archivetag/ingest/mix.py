"""Mix every channel that carries sound into one, without losing any.

A plain downmix loses sound two ways: a layout ffmpeg cannot map (16 or 32 channels without
a mask) drops the channels it does not know, and a plain sum cancels a channel against its
polarity-inverted twin (a common fault of old transfers). Here every frame of ``FRAME_S``
is the mean of the channels whose level in that frame reaches the silence threshold, so a
channel alone keeps its level however many others are quiet; a frame where none does is
the mean of all (silence stays silence). A frame whose mix is more than ``CANCELLED_DB``
below its loudest channel counts as cancelled and takes that channel alone
(README, "Ingest").
"""

import numpy as np

from archivetag.ingest.decode import SAMPLE_RATE

FRAME_S = 0.1
CANCELLED_DB = 20.0
_FRAME = round(FRAME_S * SAMPLE_RATE)
_ONES = np.ones(_FRAME, np.float32)


class Downmix:
    """Callable: (samples, channels) float32 block -> (samples,) float32 mono.

    ``threshold_dbfs`` is the RMS level (dBFS, a full-scale sine reads -3) from which a
    channel carries sound. ``cancelled_s`` counts the seconds where one channel was used
    alone because the mix cancelled; ``cancelled_channel`` is the last such one (1-based).
    """

    def __init__(self, threshold_dbfs: float):
        self._power = 10.0 ** (threshold_dbfs / 10.0)  # mean square at the threshold
        self.cancelled_s = 0.0
        self.cancelled_channel = 0

    def __call__(self, block: np.ndarray) -> np.ndarray:
        samples, channels = block.shape
        if channels == 1 or not samples:
            return block[:, 0]
        # Frames as (frame, sample, channel), the last one padded with silence; sums over a
        # frame are matrix products (numpy's reductions along an axis are several times slower).
        lengths = np.full(-(-samples // _FRAME), _FRAME)
        lengths[-1] = samples - _FRAME * (len(lengths) - 1)
        if samples % _FRAME:
            block = np.concatenate([block, np.zeros((-samples % _FRAME, channels), np.float32)])
        frames = block.reshape(-1, _FRAME, channels)
        power = (_ONES @ (frames * frames)) / lengths[:, None]  # (frame, channel)
        sounding = power >= self._power
        silent = ~sounding.any(axis=1)
        if sounding.all():
            mono = (block @ np.full(channels, 1.0 / channels, np.float32)).reshape(-1, _FRAME)
        else:
            sounding[silent] = True
            weights = (sounding / sounding.sum(axis=1, keepdims=True)).astype(np.float32)
            mono = (frames @ weights[:, :, None])[:, :, 0]
        mixed = ((mono * mono) @ _ONES) / lengths
        loudest = power.argmax(axis=1)
        top = power[np.arange(len(lengths)), loudest]
        cancelled = ~silent & (mixed * 10.0 ** (CANCELLED_DB / 10.0) < top)
        for frame in np.flatnonzero(cancelled):
            mono[frame] = frames[frame, :, loudest[frame]]
            self.cancelled_s += lengths[frame] / SAMPLE_RATE
            self.cancelled_channel = int(loudest[frame]) + 1
        return mono.reshape(-1)[:samples]

    def warning(self) -> str | None:
        """One line for the file when frames took a single channel, else None."""
        if not self.cancelled_s:
            return None
        return (f"channels cancel each other in the mix (a polarity-inverted twin?): "
                f"channel {self.cancelled_channel} used alone for {self.cancelled_s:.1f} s")
