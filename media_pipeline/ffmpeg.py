"""The one place that runs ffmpeg and ffprobe. Every input is hostile until proven otherwise.

ffmpeg is a large C program that parses whatever bytes it is given, and its demuxers can open
further inputs named inside a file (DASH, HLS, concat: FIELD_NOTES, "ffmpeg on untrusted
input"). So every run here:

- reads one worker-local file through the `file:` protocol only (`-protocol_whitelist file`),
  with the demuxer pinned to what the type check decided (`-f`), or, for bytes libmagic could
  not name, probed among a short list of media demuxers (`-format_whitelist`);
- gets no network: a fresh network namespace (`unshare --net`), checked once per process and,
  where the kernel or container refuses it, said once in the log (the other limits still hold);
- runs under limits the kernel enforces (`prlimit`): CPU seconds, address space, the size of any
  file it writes (SIGXFSZ kills it; an output that reached the cap is a failure even if the
  tool said otherwise), no core dumps; a wall-clock deadline; decoders refuse pictures over a
  pixel cap before allocating them (`-max_pixels`); and it dies with the worker that started
  it (`setpriv --pdeathsig KILL`), or is killed and reaped if the wait is interrupted (a Celery
  soft time limit);
- starts with an empty environment (no AWS keys, no proxies), default signal handling and its
  stdin closed;
- keeps its stderr out of anything a user sees (it can carry paths and URLs): it goes to the log,
  and failures leave as `Unacceptable` with a sentence for the uploader.

Why by hand rather than `subprocess.run`: the child's CPU time comes from `os.wait4` and its
peak memory from sampling its own `VmHWM` while it runs (the rusage of a spawned child counts
the parent's high-water mark too), neither of which `subprocess` exposes; `posix_spawn` avoids
a `preexec_fn` in a worker that runs a heartbeat thread (`preexec_fn` is unsafe with threads).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import CancelledError
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from media_pipeline.errors import Unacceptable

logger = logging.getLogger(__name__)

MIB = 1024 * 1024
# What a child may print before the file-size limit stops it; far above any real ffprobe JSON.
_LOG_LIMIT = 64 * MIB
_STDERR_TAIL = 4096
# Known stderr lines of a failed run, matched to give the uploader a precise reason (the line
# itself is logged). The pixel cap's is matched on any run: ffprobe reports the stream anyway.
_PIXELS = re.compile(rb"exceeds specified max pixel count")
_NO_MEMORY = re.compile(rb"Cannot allocate memory|[Oo]ut of memory")
_TOO_LARGE = re.compile(rb"File too large")
# The box's own tools, or the loader, failing: a problem of this machine, not of the file.
_BOX_BROKEN = re.compile(rb"^(prlimit|setpriv|unshare): |error while loading shared libraries",
                         re.MULTILINE)
# How often the child's memory high-water mark is read while it runs.
_SAMPLE_SECONDS = 0.02
# Signals a Celery worker may ignore or block, which the child would otherwise inherit.
_DEFAULT_SIGNALS = (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGXCPU, signal.SIGINT,
                    signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)


@dataclass(frozen=True)
class Limits:
    """What one run may use; each is a setting (see media_pipeline/conf.py)."""

    wall_seconds: float
    cpu_seconds: int
    memory_bytes: int
    output_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class InputFormat:
    """How ffmpeg may read the input: one demuxer, or a probe among a short allow-list."""

    demuxers: tuple[str, ...]

    @classmethod
    def pinned(cls, demuxer: str) -> InputFormat:
        return cls((demuxer,))

    def args(self) -> list[str]:
        if len(self.demuxers) == 1:
            return ["-f", self.demuxers[0]]
        return ["-format_whitelist", ",".join(self.demuxers)]


@dataclass(frozen=True)
class Outcome:
    """What a successful run printed and used. `peak_rss_bytes` is the child's own high-water
    mark (`VmHWM`), read every 20 ms while it runs."""

    stdout: bytes
    wall_seconds: float
    cpu_seconds: float
    peak_rss_bytes: int


class BoxError(RuntimeError):
    """The box itself could not start the tool (a limit above what this machine allows, a
    missing library): the operator's problem, logged, never blamed on the file."""


class ToolFailed(Unacceptable):
    """ffmpeg or ffprobe could not do its job on this file; the message is for the uploader.
    `kind` names the limit that stopped it ('time', 'cpu', 'memory', 'output', 'pixels') or
    'failed' when the tool itself gave up."""

    def __init__(self, message: str, kind: str) -> None:
        super().__init__(message)
        self.kind = kind


@cache
def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (scripts/bootstrap.sh installs Debian's ffmpeg)")
    return path


@cache
def network_isolation() -> tuple[str, ...]:
    """The command prefix that puts a child in a network namespace of its own, or () where the
    kernel or container allows none (said once in the log). Root can make one directly; other
    users need a user namespace around it, which Debian allows by default."""
    unshare = shutil.which("unshare")
    candidates = [("--net",), ("--user", "--map-root-user", "--net")] if unshare else []
    for flags in candidates:
        prefix = (unshare, *flags, "--")
        try:
            probe = subprocess.run([*prefix, "true"], capture_output=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if probe.returncode == 0:
            return prefix
    logger.warning("ffmpeg and ffprobe run WITHOUT a network namespace: `unshare --net` is not "
                   "available here (install util-linux, or allow user namespaces). The protocol "
                   "whitelist, pinned demuxers and resource limits still apply.")
    return ()


_PR_SET_DUMPABLE = 4  # <linux/prctl.h>


def forbid_inspection() -> bool:
    """Make this process undumpable, so a child running as the same user (ffmpeg, where no
    network namespace could be made, is one) cannot read its /proc environ (SECRET_KEY, the S3
    keys) or attach to it. Children are dumpable again after exec, so the box still reads
    their memory figures. By hand (ctypes) because the standard library has no prctl. Returns
    whether it took effect."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0) == 0


def _within_hard_limit(kind: int, wanted: int) -> int:
    """`wanted`, lowered to this process's hard limit (a service manager's `LimitCPU=`, Docker's
    ulimits), which prlimit could not raise: the limit still holds, and the run still starts."""
    hard = resource.getrlimit(kind)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


@cache
def _dies_with_parent() -> tuple[str, ...]:
    setpriv = shutil.which("setpriv")
    return (setpriv, "--pdeathsig", "KILL", "--") if setpriv else ()


def _command(tool: str, args: list[str], limits: Limits) -> list[str]:
    cpu = _within_hard_limit(resource.RLIMIT_CPU, max(1, int(limits.cpu_seconds)) + 5)
    memory = _within_hard_limit(resource.RLIMIT_AS, limits.memory_bytes)
    output = _within_hard_limit(resource.RLIMIT_FSIZE, limits.output_bytes)
    return [
        _tool("prlimit"), f"--cpu={max(1, cpu - 5)}:{cpu}", f"--as={memory}",
        f"--fsize={output}", "--core=0", "--",
        *_dies_with_parent(), *network_isolation(), _tool(tool), *args,
    ]


def _high_water_mark(pid: int) -> int:
    """The child's peak resident memory so far, in bytes (0 once it has exited)."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _wait(pid: int, deadline: float,
          cancel: threading.Event | None = None) -> tuple[int, os.struct_rusage, bool, int]:
    """Wait for `pid`, killing its process group once `deadline` passes. Returns (wait status,
    resource usage, whether it was killed for time, peak resident memory sampled). Raises
    `CancelledError` (the caller kills and reaps) once `cancel` is set."""
    try:
        pidfd: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):  # an old kernel, or a seccomp profile that refuses it
        pidfd = None
    timed_out, peak = False, 0
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise CancelledError
            peak = max(peak, _high_water_mark(pid))
            remaining = 1.0 if timed_out else max(0.0, deadline - time.monotonic())
            step = min(_SAMPLE_SECONDS, remaining)
            if pidfd is not None:
                poller = select.poll()
                poller.register(pidfd, select.POLLIN)
                if poller.poll(step * 1000):
                    break
            else:
                reaped, status, usage = os.wait4(pid, os.WNOHANG)
                if reaped:
                    return status, usage, timed_out, peak
                time.sleep(step)
            if not timed_out and time.monotonic() >= deadline:
                timed_out = True
                os.killpg(pid, signal.SIGKILL)  # not reaped yet, so the group is still ours
        _, status, usage = os.wait4(pid, 0)
        return status, usage, timed_out, peak
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _kill_and_reap(pid: int) -> None:
    """For a wait cut short (a Celery time limit, any exception): the child must not outlive
    the box's deadline, and must not be left a zombie."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def _tail(path: Path) -> bytes:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - _STDERR_TAIL))
        return f.read()


def pixel_cap_failure(limits: Limits) -> ToolFailed:
    return ToolFailed(f"The picture is larger than the {limits.max_pixels / 1e6:g}-megapixel "
                      "limit.", "pixels")


def _failure(what: str, limits: Limits, status: int, timed_out: bool, cpu_seconds: float,
             stderr: bytes, output: Path | None) -> ToolFailed | None:
    """The uploader's sentence for a run that did not succeed, or None if it did."""
    signum = os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0
    failed = bool(signum) or os.WEXITSTATUS(status) != 0
    if timed_out:
        return ToolFailed(f"{what} took longer than {limits.wall_seconds:g} s; the file may be "
                          "damaged.", "time")
    if failed and _BOX_BROKEN.search(stderr):
        raise BoxError(f"the ffmpeg box could not run: {stderr.decode('utf-8', 'replace')[:300]}")
    # The soft CPU limit sends SIGXCPU, which ffmpeg catches to stop early; the hard one, 5 s
    # later, SIGKILL.
    if failed and (signum == signal.SIGXCPU or cpu_seconds >= limits.cpu_seconds):
        return ToolFailed(f"{what} needed more than {limits.cpu_seconds} s of processor time; "
                          "the file may be damaged.", "cpu")
    if _PIXELS.search(stderr):
        return pixel_cap_failure(limits)
    at_cap = output is not None and output.exists() and output.stat().st_size >= limits.output_bytes
    if at_cap or signum == signal.SIGXFSZ or (failed and _TOO_LARGE.search(stderr)):
        return ToolFailed(f"{what} would have written more than {limits.output_bytes // MIB} MiB "
                          "from this upload; the file looks malformed.", "output")
    if failed and _NO_MEMORY.search(stderr):
        return ToolFailed(f"{what} needed more than the {limits.memory_bytes // MIB} MiB of "
                          "memory allowed.", "memory")
    if failed:
        return ToolFailed(f"{what} failed: the file could not be read.", "failed")
    return None


def run(tool: str, source: Path, input_format: InputFormat, *, limits: Limits, what: str,
        options: Sequence[str] = (), outputs: Sequence[str] = (), output: Path | None = None,
        scratch: Path | None = None, progress: Path | None = None,
        cancel: threading.Event | None = None) -> Outcome:
    """Run `tool` ('ffmpeg' or 'ffprobe') on the local file `source`, in the box.

    `options` come before the input (input options), `outputs` after it; `output` is the file
    the run writes, checked against the size cap; `progress`, a file for ffmpeg's `-progress`;
    `cancel`, set from another thread, kills the run and raises `CancelledError` (work beside
    a step that failed). Raises `ToolFailed` with the uploader's sentence; the tool's own
    stderr goes to the log only.
    """
    args = ["-hide_banner", "-nostdin", "-loglevel", "error"] if tool == "ffmpeg" else [
        "-hide_banner", "-loglevel", "error"]
    if progress is not None:  # how far it has got, for the uploader (media_pipeline/progress.py)
        args += ["-progress", f"file:{progress}", "-nostats"]
    args += ["-protocol_whitelist", "file", *input_format.args(),
             "-max_pixels", str(limits.max_pixels), *options,
             "-i", f"file:{Path(source).resolve()}", *outputs]
    argv = _command(tool, args, limits)
    with tempfile.TemporaryDirectory(prefix="box-", dir=scratch) as tmp:
        out_path, err_path = Path(tmp) / "stdout", Path(tmp) / "stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            started = time.monotonic()
            pid = os.posix_spawn(argv[0], argv, {"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
                                 file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                               (os.POSIX_SPAWN_DUP2, out.fileno(), 1),
                                               (os.POSIX_SPAWN_DUP2, err.fileno(), 2)],
                                 setsid=True, setsigdef=_DEFAULT_SIGNALS, setsigmask=())
            try:
                status, usage, timed_out, peak = _wait(pid, started + limits.wall_seconds, cancel)
            except BaseException:
                _kill_and_reap(pid)
                raise
        wall = time.monotonic() - started
        stderr = _tail(err_path)
        outcome = Outcome(stdout=out_path.read_bytes()[:_LOG_LIMIT], wall_seconds=wall,
                          cpu_seconds=usage.ru_utime + usage.ru_stime, peak_rss_bytes=peak)
    try:
        failure = _failure(what, limits, status, timed_out, outcome.cpu_seconds, stderr, output)
    except BoxError:
        if output is not None:
            output.unlink(missing_ok=True)
        raise
    logger.info("ffmpeg-box tool=%s step=%r status=%s wall=%.2fs cpu=%.2fs peak_rss=%dMiB",
                tool, what, failure.kind if failure else "ok", outcome.wall_seconds,
                outcome.cpu_seconds, outcome.peak_rss_bytes // MIB)
    if failure is not None:
        logger.warning("ffmpeg-box %s stderr (for the operator only): %s", tool,
                       stderr.decode("utf-8", "replace").strip()[-1000:])
        if output is not None:
            output.unlink(missing_ok=True)
        raise failure
    return outcome
