"""Turn ffmpeg/ffprobe chatter into a short reason a person can read in one line."""

import re
from collections.abc import Iterable

REASON_LIMIT = 200
# "[mp3 @ 0x55d1a3ac1e40] " and "file:/long/path: " add nothing to a reason.
_PREFIX = re.compile(r"^\[[^\]]* @ 0x[0-9a-f]+\]\s*|^file:.*?: (?=[A-Z])")


def short_reason(lines: Iterable[str], limit: int = REASON_LIMIT) -> str:
    """The distinct messages of ``lines``, last ones kept, joined with '; '."""
    seen: list[str] = []
    for line in lines:
        text = _PREFIX.sub("", line.strip())
        if text and text not in seen:
            seen.append(text)
    joined = "; ".join(seen)
    return joined if len(joined) <= limit else "…" + joined[-(limit - 1) :]


# ffmpeg's words for the faults archives hold, and what they mean to a person. The first
# that matches is the reason; ffmpeg's own words are kept apart (Outcome.ffmpeg_said, `show
# --json`), for whoever digs.
_MEANINGS = (
    ("partial file", "it was cut short"),
    ("moov atom not found", "its index (the MP4 'moov' box) is missing: the file was cut "
                            "short or never finished writing"),
    ("Invalid data found when processing input", "its data is not what its format says"),
    ("decode_frame() failed", "some of its audio frames are damaged"),
    ("Error while decoding stream", "some of its audio frames are damaged"),
    ("Header missing", "some of its frames have no header (damaged, or two files joined)"),
    ("End of file", "it ends before the data its header announces"),
    ("filesize and duration do not match", "it is shorter than its header says (cut short, "
                                           "or still being written)"),
    ("truncated", "it was cut short"),
    ("Packet corrupt", "some of its packets are damaged"),
)


def in_words(raw: str) -> str:
    """`raw` (ffmpeg's chatter, as `short_reason` gives it) as a sentence a person reads;
    unchanged when no meaning is known."""
    for phrase, meaning in _MEANINGS:
        if phrase.lower() in raw.lower():
            return meaning
    return raw
