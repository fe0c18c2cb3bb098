"""What a run tells the person or the cron job watching it.

On a terminal: a live progress bar (files, segments, audio hours, segments/s, ETA) that
stays honest while the walk is still finding files. Off a terminal: one progress line every
`interval_s`. Quiet (`-q`): nothing unless something went wrong. `--log FILE`: one JSON line
per file outcome and one for the summary, whatever the verbosity.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TextIO

from archivetag.storage.disk import disk_full, is_disk_full

@dataclass
class RunCounts:
    """Everything counted during a run; the summary is made from it."""

    plan: Counter = field(default_factory=Counter)  # plan Category -> files
    outcomes: Counter = field(default_factory=Counter)  # done / failed / skipped / missing
    files_tagged: int = 0  # files that went through the model stage, whatever the outcome
    segments: int = 0
    silent_segments: int = 0
    audio_seconds: float = 0.0
    bytes_to_tag: int = 0
    bytes_tagged: int = 0
    seconds_per_byte: float = 0.0  # learnt from the files read; 0 until the first

    def hours_to_tag_estimate(self) -> float | None:
        """Hours of audio in the files to tag, from their bytes at the rate of the files read
        so far; None before the first is read (files differ in bytes per second 100-fold:
        a guess would be off by that much)."""
        if not self.seconds_per_byte:
            return None
        return self.bytes_to_tag * self.seconds_per_byte / 3600

    def learn_rate(self, size: int, seconds: float) -> None:
        """Refines the bytes-to-audio-seconds ratio from a file just read."""
        self.bytes_tagged += size
        self.audio_seconds += seconds
        if self.bytes_tagged and self.audio_seconds:
            self.seconds_per_byte = self.audio_seconds / self.bytes_tagged


class Reporter:
    def __init__(self, *, quiet: bool, log_path: Path | None, interval_s: float = 30.0,
                 stream: TextIO | None = None, verbose: bool = False):
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() and not quiet
        self.interval_s = interval_s
        self.log = open(log_path, "a", encoding="utf-8") if log_path else None
        self.started = time.monotonic()
        self._last_line = self.started
        self._progress = None
        self._task = None

    # -- lines --------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        """A line for people (not under -q)."""
        if not self.quiet:
            if self._progress is not None:
                self._progress.console.print(text, highlight=False, markup=False)
            else:
                print(text, file=self.stream, flush=True)

    def warn(self, text: str) -> None:
        """A line that matters even under -q (cron mails it)."""
        if self._progress is not None:
            self._progress.console.print(f"warning: {text}", highlight=False, markup=False)
        else:
            print(f"archivetag: warning: {text}", file=self.stream, flush=True)

    def file(self, path: str, status: str, reason: str | None) -> None:
        """A file's outcome: logged, and said under -v."""
        if self.verbose:
            self.say(f"{status}: {path}" + (f": {reason}" if reason else ""))
        self.record("file", path=path, status=status, reason=reason)

    def record(self, event: str, **fields) -> None:
        """Appends one JSON line to the --log file; a full disk stops the logging and the run."""
        if self.log is not None:
            line = {"time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "event": event, **fields}
            try:
                self.log.write(json.dumps(line, ensure_ascii=False, default=str) + "\n")
                self.log.flush()
            except OSError as error:
                path, self.log = self.log.name, None
                if is_disk_full(error):
                    raise disk_full(Path(path)) from None
                raise

    # -- progress -----------------------------------------------------------------------------

    def start_progress(self) -> None:
        if not self.tty:
            return
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        # The bar and the ETA count seconds of audio, not files: files differ in length by
        # orders of magnitude, and the estimate of the audio to come only firms up (from
        # bytes, at the rate learnt from files read) while the walk goes on.
        self._progress = Progress(
            TextColumn("tagging"), BarColumn(), TextColumn("{task.fields[detail]}"),
            TimeRemainingColumn(), console=Console(file=self.stream), transient=False,
            redirect_stderr=False, redirect_stdout=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("tagging", total=None, detail="")

    def update(self, counts: RunCounts, files_to_tag: int, walking: bool) -> None:
        files_done = counts.files_tagged
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = counts.segments / elapsed
        hours = counts.hours_to_tag_estimate()
        of = f" of ~{hours:.2f}" if hours is not None else ""
        detail = (f"{files_done}/{files_to_tag} files, {counts.segments} segments, "
                  f"{counts.audio_seconds / 3600:.2f}{of} h audio, "
                  f"{rate:.1f} seg/s" + (", still finding files" if walking else ""))
        if self._progress is not None:  # no total (no ETA) until the first file is read
            total = None if hours is None else max(hours * 3600, counts.audio_seconds, 1.0)
            self._progress.update(self._task, completed=counts.audio_seconds, total=total,
                                  detail=detail)
        elif not self.quiet and time.monotonic() - self._last_line >= self.interval_s:
            self._last_line = time.monotonic()
            print(f"progress: {detail}", file=self.stream, flush=True)

    def stop_progress(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def close(self) -> None:
        self.stop_progress()
        if self.log is not None:
            self.log.close()
