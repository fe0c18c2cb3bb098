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
