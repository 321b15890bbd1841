"""How far a transcode has got, read from ffmpeg's -progress file."""

from __future__ import annotations

from pathlib import Path

import pytest

from media_pipeline.progress import Progress


def block(out_time_us: int, state: str = "continue") -> str:
    return f"frame=10\nout_time_us={out_time_us}\nout_time_ms={out_time_us}\nprogress={state}\n"


@pytest.mark.parametrize(("written", "percent"), [
    ("", 0),
    (block(0), 0),
    (block(2_500_000) + block(5_000_000), 50),
    (block(9_999_999), 99),
    (block(12_000_000, "end"), 99),  # 100 is for the asset being ready
])
def test_the_last_reported_time_over_the_duration_is_the_progress(tmp_path: Path, written: str,
                                                                  percent: int) -> None:
    path = tmp_path / "progress"
    path.write_text(written)
    progress = Progress()
    progress.start(path, duration=10.0)
    assert progress.percent() == percent


def test_progress_is_unknown_before_a_run_and_without_a_duration(tmp_path: Path) -> None:
    assert Progress().percent() is None
    unknown = Progress()
    unknown.start(tmp_path / "progress", duration=None)
    assert unknown.percent() is None


def test_a_progress_file_not_written_yet_is_unknown(tmp_path: Path) -> None:
    progress = Progress()
    progress.start(tmp_path / "not-yet", duration=10.0)
    assert progress.percent() is None
