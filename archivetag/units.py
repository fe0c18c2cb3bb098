"""Durations and ages as people write them, parsed in one place for every command.

    SECONDS := NUMBER              90, 2.5            seconds
             | CLOCK               1:30, 1:02:03      [h:]m:s, seconds (and minutes after h) < 60
             | (NUMBER UNIT)+      1m30s, 2h, 7d, 1w  units w d h m s, each at most once, in order

`search --duration`/`duration:`, `search --since`/`since:`, `prune --older-than` and
`ingest --max-runtime` all read their values here, so `90`, `1:30` and `1m30s` mean the same
everywhere (README.md, "Searching"). Every refusal is a `UsageError` whose message names the
value; nothing here raises anything else, whatever the input (overflow, NaN, far-off dates).
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timedelta, timezone

from archivetag.errors import UsageError

UNIT_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
MAX_SECONDS = 100 * 366 * 86400  # a century: past it, a duration or age is a typing mistake
_NUMBER = r"[0-9]+(?:\.[0-9]+)?"
_PLAIN = re.compile(_NUMBER)
_CLOCK = re.compile(r"(?:([0-9]{1,9}):)?([0-9]{1,9}):([0-9]{1,2}(?:\.[0-9]+)?)")
_UNITS = re.compile("".join(f"(?:(?P<{unit}>{_NUMBER}){unit})?" for unit in UNIT_SECONDS))
EXAMPLES = "90, 1:30, 1m30s, 2h or 7d"


def _length(value: str) -> float | None:
    value = value.strip().lower()
    if _PLAIN.fullmatch(value):
        return float(value)
    if clock := _CLOCK.fullmatch(value):
        hours, minutes, secs = clock.groups()
        return int(hours or 0) * 3600 + int(minutes) * 60 + float(secs)
    if value and (units := _UNITS.fullmatch(value)):
        return sum(float(amount) * UNIT_SECONDS[unit]
                   for unit, amount in units.groupdict().items() if amount)
    return None


def seconds(text: str, what: str) -> float:
    """`text` as seconds (0 .. MAX_SECONDS, finite); `what` names the value in the error."""
    clock = _CLOCK.fullmatch(text.strip())
    if clock and (float(clock[3]) >= 60 or (clock[1] and int(clock[2]) >= 60)):
        raise UsageError(f"{what} {text!r}: not a clock time (seconds, and minutes after "
                         "hours, run 0-59)")
    total = _length(text)
    if total is None:
        raise UsageError(f"{what} {text!r}: give a length such as {EXAMPLES}")
    if not math.isfinite(total) or total > MAX_SECONDS:
        raise UsageError(f"{what} {text!r}: longer than a century")
    return total


def _precision(value: str) -> float:
    """The step of the last digit of a length as written: 14 -> 1, 14.2 -> 0.1, 1:30 -> 1,
    2h -> 3600, 1.5h -> 360."""
    value = value.strip().lower()
    unit = UNIT_SECONDS.get(value[-1:], 1)
    last = re.findall(_NUMBER, value)[-1]
    decimals = len(last.partition(".")[2])
    return unit / 10 ** decimals


def seconds_range(text: str, what: str) -> tuple[float | None, float | None]:
    """`MIN..MAX`, `..MAX`, `MIN..` or `EXACT`, each a length for `seconds`; low <= high.

    `EXACT` is as precise as it is written: the lengths that round to it at its last digit
    (`14` is 13.5 to 14.5 s, `14.0` 13.95 to 14.05 s), since decoded lengths are never whole.
    """
    low, dots, high = text.partition("..")
    bounds = (seconds(low, what) if low else None, seconds(high, what) if high else None)
    if not dots and bounds[0] is not None:
        half = _precision(low) / 2
        bounds = (max(bounds[0] - half, 0.0), bounds[0] + half)
    if bounds == (None, None):
        raise UsageError(f"{what} {text!r}: give a range such as 1m..2m, ..30 or 1h..")
    if None not in bounds and bounds[0] > bounds[1]:
        raise UsageError(f"{what} {text!r}: the range ends before it starts")
    return bounds


def moment(text: str, what: str, now: datetime | None = None) -> datetime:
    """A past moment (UTC): an age for `seconds` ago (`7d`, `12h`), or an ISO date or time
    (UTC unless it says otherwise). Dates in the future are refused: they match nothing."""
    now = now or datetime.now(timezone.utc)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        if _length(text) is None:
            raise UsageError(f"{what} {text!r}: give a date such as 2026-01-31 or an age "
                             f"such as {EXAMPLES}") from None
        return now - timedelta(seconds=seconds(text, what))
    parsed = parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    try:
        parsed = parsed.astimezone(timezone.utc)
    except OverflowError:
        raise UsageError(f"{what} {text!r}: not a date a catalogue can hold") from None
    if parsed > now:
        raise UsageError(f"{what} {text!r}: the date is in the future")
    return parsed
