"""How far a long ffmpeg run has got, for the uploader: read from ffmpeg's `-progress` file."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

# ffmpeg writes key=value blocks; out_time_us is the output's timestamp in microseconds
# (out_time_ms, despite its name, is the same number).
_OUT_TIME = re.compile(rb"out_time_us=(\d+)")
_TAIL = 4096


@dataclass
class Progress:
    """Set by the step that runs ffmpeg, read by the heartbeat thread."""

    path: Path | None = None
    duration: float | None = None

    def start(self, path: Path, duration: float | None) -> None:
        self.path, self.duration = path, duration

    def percent(self) -> int | None:
        """0-99 while a run with a known duration writes its progress; None otherwise (100 is
        for the asset being ready, which the pipeline says itself)."""
        if self.path is None or not self.duration:
            return None
        try:
            with open(self.path, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - _TAIL))
                times = _OUT_TIME.findall(f.read())
        except OSError:
            return None
        if not times:
            return 0
        return max(0, min(99, int(int(times[-1]) / 1e6 / self.duration * 100)))
