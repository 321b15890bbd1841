"""The box ffmpeg and ffprobe run in: each limit stops a real ffmpeg on a real file."""

from __future__ import annotations

import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from concurrent.futures import CancelledError
from pathlib import Path

import pytest

from media_pipeline import ffmpeg
from media_pipeline.ffmpeg import BoxError, InputFormat, Limits, ToolFailed, network_isolation, run

MIB = 1024 * 1024
ROOMY = Limits(wall_seconds=60, cpu_seconds=60, memory_bytes=3 * 1024 * MIB,
               output_bytes=256 * MIB, max_pixels=120_000_000)
MOV = InputFormat.pinned("mov")


def limits(**changes: float) -> Limits:
    return Limits(**{**ROOMY.__dict__, **changes})


def png(path: Path, width: int, height: int) -> Path:
    """An all-black RGB PNG, written row by row without an image library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    packer = zlib.compressobj(9)
    row = b"\0" * (1 + 3 * width)
    rows = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows)
                     + chunk(b"IEND", b""))
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("box") / "clip.mp4"
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=640x480:rate=25:duration=4", "-c:v", "libx264", "-preset",
                    "ultrafast", "-pix_fmt", "yuv420p", str(path)], check=True, timeout=60)
    return path


def probe(path: Path, fmt: InputFormat = MOV, box: Limits = ROOMY) -> bytes:
    return run("ffprobe", path, fmt, limits=box, what="Reading the media",
               outputs=["-print_format", "json", "-show_streams"]).stdout


def test_a_probe_reports_the_childs_own_peak_memory_and_cpu(clip: Path) -> None:
    outcome = run("ffprobe", clip, MOV, limits=ROOMY, what="Reading the media",
                  outputs=["-show_streams"])
    assert b"codec_name=h264" in outcome.stdout
    # ffprobe on a small clip: tens of MiB resident (measured 30-60). Zero would mean the
    # sampler never read the child; hundreds, that it read something else.
    assert 10 * MIB < outcome.peak_rss_bytes < 200 * MIB
    assert 0 < outcome.cpu_seconds < 10


def test_a_file_read_with_another_demuxer_than_its_own_fails_plainly(clip: Path) -> None:
    with pytest.raises(ToolFailed) as failure:
        probe(clip, InputFormat.pinned("matroska"))
    assert failure.value.kind == "failed"
    assert str(failure.value) == "Reading the media failed: the file could not be read."


def test_probing_among_an_allow_list_finds_a_listed_format(clip: Path) -> None:
    assert b"h264" in probe(clip, InputFormat(("matroska", "mov")))


def test_probing_among_an_allow_list_refuses_a_format_outside_it(clip: Path) -> None:
    with pytest.raises(ToolFailed):
        probe(clip, InputFormat(("matroska", "ogg")))


def test_a_picture_over_the_pixel_cap_is_refused_before_it_is_decoded(tmp_path: Path) -> None:
    picture = png(tmp_path / "big.png", 4000, 3000)
    with pytest.raises(ToolFailed, match="larger than the 10-megapixel limit") as failure:
        run("ffprobe", picture, InputFormat.pinned("png_pipe"), what="Reading the media",
            limits=limits(max_pixels=10_000_000), outputs=["-show_streams"])
    assert failure.value.kind == "pixels"


def test_a_picture_under_the_pixel_cap_is_read(tmp_path: Path) -> None:
    picture = png(tmp_path / "small.png", 400, 300)
    assert b'"width": 400' in probe(picture, InputFormat.pinned("png_pipe"))


def test_an_output_that_reaches_its_cap_fails_and_is_removed(clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.mp4"
    with pytest.raises(ToolFailed, match="more than 0 MiB") as failure:
        run("ffmpeg", clip, MOV, limits=limits(output_bytes=clip.stat().st_size // 4),
            what="Copying", outputs=["-c", "copy", "-f", "mp4", f"file:{target}"], output=target)
    assert failure.value.kind == "output"
    assert not target.exists()


def test_a_run_past_its_wall_clock_is_killed(tmp_path: Path) -> None:
    fifo = tmp_path / "never-ends"
    os.mkfifo(fifo)  # nobody ever writes: the reader waits forever
    started = time.monotonic()
    with pytest.raises(ToolFailed, match="longer than 1 s") as failure:
        probe(fifo, box=limits(wall_seconds=1))
    assert failure.value.kind == "time"
    assert time.monotonic() - started < 5


def test_a_run_past_its_cpu_time_is_stopped(clip: Path, tmp_path: Path) -> None:
    target = tmp_path / "slow.mp4"
    with pytest.raises(ToolFailed, match="more than 1 s of processor time") as failure:
        run("ffmpeg", clip, MOV, limits=limits(cpu_seconds=1), what="Encoding",
            outputs=["-c:v", "libx264", "-preset", "veryslow", "-f", "mp4", f"file:{target}"],
            output=target)
    assert failure.value.kind == "cpu"


def test_a_run_over_its_address_space_fails_for_memory(tmp_path: Path) -> None:
    picture = png(tmp_path / "wide.png", 10000, 10000)  # 300 MB of RGB once decoded
    target = tmp_path / "frame.jpg"
    with pytest.raises(ToolFailed, match="more than the 500 MiB of memory") as failure:
        run("ffmpeg", picture, InputFormat.pinned("png_pipe"), what="Decoding",
            limits=limits(memory_bytes=500 * MIB), outputs=["-frames:v", "1", f"file:{target}"],
            output=target)
    assert failure.value.kind == "memory"


def test_the_childs_stderr_never_reaches_the_message(clip: Path) -> None:
    with pytest.raises(ToolFailed) as failure:
        probe(clip, InputFormat.pinned("matroska"))
    assert str(clip) not in str(failure.value) and "EBML" not in str(failure.value)


def test_the_isolation_prefix_gives_a_child_no_route_to_loopback() -> None:
    prefix = network_isolation()
    assert prefix, "unshare --net works on this machine (root, or user namespaces allowed)"
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        code = (f"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=2)")
        inside = subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True,
                                timeout=30, check=False)
        outside = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30,
                                 check=False)
    assert outside.returncode == 0
    assert inside.returncode != 0 and b"Network is unreachable" in inside.stderr


@pytest.fixture
def stand_in_ffprobe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Put a Python script in ffprobe's place, so a test can see what a run in the box may do."""
    def install(code: str) -> None:
        script = tmp_path / "bin" / "ffprobe"
        script.parent.mkdir(exist_ok=True)
        script.write_text(f"#!{sys.executable}\n{code}\n")
        script.chmod(0o755)
        monkeypatch.setenv("PATH", f"{script.parent}:{os.environ['PATH']}")
        ffmpeg._tool.cache_clear()

    yield install
    ffmpeg._tool.cache_clear()


def test_a_tool_in_the_box_cannot_reach_a_loopback_listener(clip: Path, stand_in_ffprobe) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        stand_in_ffprobe(
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2); print('reached')\n"
            "except OSError as exc:\n"
            "    print('unreachable', exc)")
        outcome = run("ffprobe", clip, MOV, limits=ROOMY, what="Reading the media")
    assert outcome.stdout.startswith(b"unreachable"), outcome.stdout


def test_a_tool_in_the_box_gets_no_environment_and_default_signals(
        clip: Path, stand_in_ffprobe, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_ffprobe(
        "import os, signal\n"
        "print(sorted(os.environ))\n"
        "print(signal.getsignal(signal.SIGHUP) == signal.SIG_DFL)")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as a worker may ignore it
    try:
        outcome = run("ffprobe", clip, MOV, limits=ROOMY, what="Reading the media")
    finally:
        signal.signal(signal.SIGHUP, previous)
    names, default_hangup = outcome.stdout.decode().splitlines()
    assert "AWS_SECRET_ACCESS_KEY" not in names and "SECRET_KEY" not in names
    assert default_hangup == "True"


def test_a_tool_that_outlives_an_interrupted_wait_is_killed_and_reaped(
        clip: Path, stand_in_ffprobe, monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_ffprobe("import os, time\nprint(os.getpid(), flush=True)\ntime.sleep(60)")
    spawned: list[int] = []
    real_wait = ffmpeg._wait

    def interrupted(pid: int, deadline: float, cancel: object = None):
        spawned.append(pid)
        raise KeyboardInterrupt  # as a Celery soft time limit arrives, in the middle of the wait

    monkeypatch.setattr(ffmpeg, "_wait", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run("ffprobe", clip, MOV, limits=ROOMY, what="Reading the media")
    monkeypatch.setattr(ffmpeg, "_wait", real_wait)
    [pid] = spawned
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: neither running nor a zombie


def test_a_run_beside_a_step_that_failed_is_killed_and_reaped_once_cancelled(clip: Path) -> None:
    """A poster made beside the rendition does not outlive the rendition's failure."""
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(CancelledError):
        # Endless, at the clip's own pace: only the cancel ends it.
        run("ffmpeg", clip, MOV, limits=ROOMY, what="Making the poster frame",
            options=["-re", "-stream_loop", "-1"], outputs=["-f", "null", "-"], cancel=cancel)
    assert time.monotonic() - started < 10
    assert subprocess.run(["pgrep", "-f", f"stream_loop -1 -i file:{clip}"], capture_output=True,
                          check=False).returncode == 1


def test_a_box_that_cannot_start_the_tool_is_the_operators_problem_not_the_files(
        clip: Path, tmp_path: Path) -> None:
    with pytest.raises(BoxError):
        run("ffprobe", clip, MOV, limits=limits(memory_bytes=64 * MIB), what="Reading the media")


def test_peak_memory_is_the_childs_own_not_the_workers(clip: Path) -> None:
    ballast = bytearray(600 * MIB)  # the worker grows; a spawned child's rusage would count it
    ballast[::4096] = b"x" * len(ballast[::4096])
    outcome = run("ffprobe", clip, MOV, limits=ROOMY, what="Reading the media",
                  outputs=["-show_streams"])
    del ballast
    # The parent really did hold the ballast when it spawned the child, so a figure taken
    # from rusage (which counts it) would be over 600 MiB; the child's own is far below.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 > 600 * MIB
    assert 10 * MIB < outcome.peak_rss_bytes < 300 * MIB


def test_an_inspection_proof_worker_still_starts_inspectable_children() -> None:
    # PR_GET_DUMPABLE (3) in the process that called forbid_inspection, then in a child it
    # spawned: the worker's environment is closed to the child, the child's figures are not.
    code = (
        "import ctypes, subprocess, sys\n"
        "from media_pipeline.ffmpeg import forbid_inspection\n"
        "libc = ctypes.CDLL(None)\n"
        "print(forbid_inspection(), libc.prctl(3, 0, 0, 0, 0))\n"
        "child = 'import ctypes; print(ctypes.CDLL(None).prctl(3, 0, 0, 0, 0))'\n"
        "print(subprocess.run([sys.executable, '-c', child], capture_output=True, text=True)"
        ".stdout.strip())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=30, cwd=Path(__file__).resolve().parents[2], check=False)
    assert result.stdout.split() == ["True", "0", "1"], result.stderr


def _video(path: Path, keyint: int) -> Path:
    """Six seconds of a moving test pattern at 25 fps, a keyframe every `keyint` frames."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    "testsrc=size=320x240:rate=25:duration=6", "-c:v", "libx264", "-preset",
                    "ultrafast", "-g", str(keyint), "-keyint_min", str(keyint),
                    "-sc_threshold", "0", "-pix_fmt", "yuv420p", str(path)],
                   check=True, timeout=60)
    return path


def _frame_at(path: Path, seconds: float) -> bytes:
    """The exactly decoded frame at `seconds`, made into a JPEG as the poster is."""
    return subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-ss", str(seconds),
                           "-i", str(path), "-frames:v", "1", "-vf", "scale='min(640,iw)':-2",
                           "-q:v", "4", "-f", "image2", "-"],
                          capture_output=True, check=True, timeout=60).stdout


@pytest.mark.parametrize(("keyint", "frame_time"), [
    (50, 2.0),    # keyframes at 0, 2, 4 s: the first one at or after 1 s
    (1000, 1.0),  # one keyframe in all: the frame at 1 s, decoded exactly
])
def test_the_poster_is_the_first_keyframe_after_a_second_or_else_the_frame_there(
        tmp_path: Path, settings, keyint: int, frame_time: float) -> None:
    from media_pipeline.analysis import extract_poster
    from media_pipeline.conf import poster_limits

    video = _video(tmp_path / "video.mp4", keyint)
    extract_poster(video, MOV, tmp_path / "poster.jpg", 6.0, poster_limits())
    poster = (tmp_path / "poster.jpg").read_bytes()
    assert poster == _frame_at(video, frame_time)
    assert poster != _frame_at(video, 3.0)  # the pattern moves: frames differ
