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
        if block.shape[1] == 1 or not len(block):
            return block[:, 0]
        starts = np.arange(0, len(block), _FRAME)
        lengths = np.diff(starts, append=len(block))
        power = np.add.reduceat(block * block, starts, axis=0) / lengths[:, None]
        sounding = power >= self._power  # (frames, channels)
        silent = ~sounding.any(axis=1)
        if sounding.all():  # a matrix product: numpy's mean across a row is ~10x slower
            mono = block @ np.full(block.shape[1], 1.0 / block.shape[1], np.float32)
        else:
            sounding[silent] = True
            weights = (sounding / sounding.sum(axis=1, keepdims=True)).astype(np.float32)
            mono = np.einsum("ij,ij->i", block, np.repeat(weights, lengths, axis=0))
        mixed = np.add.reduceat(mono * mono, starts) / lengths
        loudest = power.argmax(axis=1)
        top = power[np.arange(len(starts)), loudest]
        cancelled = ~silent & (mixed * 10.0 ** (CANCELLED_DB / 10.0) < top)
        for frame in np.flatnonzero(cancelled):
            span = slice(starts[frame], starts[frame] + lengths[frame])
            mono[span] = block[span, loudest[frame]]
            self.cancelled_s += lengths[frame] / SAMPLE_RATE
            self.cancelled_channel = int(loudest[frame]) + 1
        return mono

    def warning(self) -> str | None:
        """One line for the file when frames took a single channel, else None."""
        if not self.cancelled_s:
            return None
        return (f"channels cancel each other in the mix (a polarity-inverted twin?): "
                f"channel {self.cancelled_channel} used alone for {self.cancelled_s:.1f} s")
