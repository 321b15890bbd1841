"""Process one asset: claim it, read what it really is, store it, and mark it ready or failed.

Plain functions, tested without Celery; tasks.py is the thin glue. Every step is idempotent
and keyed by the asset id, so a task redelivered after a crash, or run twice by racing
workers, ends with the same single stored object:

- `claim` is one conditional UPDATE: only a pending asset, or a processing one whose
  heartbeat has gone stale (its worker died), can be taken. A live worker keeps its claim
  fresh with a heartbeat thread, so a second worker racing for the asset backs off.
- The bytes move from staging to a key derived from the id; if a previous attempt already
  moved them, processing continues from the stored copy.

ffprobe and ffmpeg only ever read a worker-local file (`working_copy`): on S3 the object is
downloaded into the task's scratch directory while it is hashed, so no URL, and no credential,
reaches them (media_pipeline/ffmpeg.py is the box they run in).
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.db import connection
from django.db.models import F, Q
from django.utils import timezone

from media_pipeline import analysis, blobs, playback, renditions, storage
from media_pipeline.conf import poster_limits, probe_limits
from media_pipeline.errors import Unacceptable
from media_pipeline.ffmpeg import BoxError, InputFormat
from media_pipeline.models import MediaAsset
from media_pipeline.progress import Progress

logger = logging.getLogger(__name__)
Status = MediaAsset.Status
T = TypeVar("T")


# A task's scratch directory in the temp dir: asset-<uuid>-<random>.
SCRATCH_PREFIX = "asset-"


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str
    etag: str


def heartbeat_timeout() -> timedelta:
    return timedelta(seconds=settings.MEDIA_HEARTBEAT_SECONDS * 6)


def claim(asset_id: uuid.UUID | str) -> MediaAsset | None:
    """Take the asset for processing, or None if it is done or another worker holds it."""
    now = timezone.now()
    claimable = Q(status=Status.PENDING) | Q(status=Status.PROCESSING, updated_at__lt=now - heartbeat_timeout())
    taken = MediaAsset.objects.filter(claimable, pk=asset_id).update(
        status=Status.PROCESSING, attempts=F("attempts") + 1, processing_started_at=now, updated_at=now,
    )
    return MediaAsset.objects.get(pk=asset_id) if taken else None


def release(asset_id: uuid.UUID | str, reason: str) -> None:
    """Hand the asset back (status pending) so a retry can claim it again."""
    MediaAsset.objects.filter(pk=asset_id, status=Status.PROCESSING).update(
        status=Status.PENDING, error=reason, progress=None, updated_at=timezone.now())


def mark_failed(asset_id: uuid.UUID | str, reason: str) -> None:
    """A terminal failure with a reason the uploader can read. Staged bytes are kept so an
    operator can requeue the asset once the cause is fixed: no upload is ever lost."""
    logger.info("asset %s failed: %s", asset_id, reason)
    MediaAsset.objects.filter(pk=asset_id).exclude(status=Status.READY).update(
        status=Status.FAILED, error=reason, progress=None, updated_at=timezone.now())


@contextmanager
def heartbeat(asset_id: uuid.UUID | str, progress: Progress | None = None) -> Iterator[None]:
    """Refresh the claim every MEDIA_HEARTBEAT_SECONDS while the body runs, with how far a
    long ffmpeg run has got."""
    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.MEDIA_HEARTBEAT_SECONDS):
                percent = progress.percent() if progress else None
                changes = {"updated_at": timezone.now()}
                if percent is not None:
                    changes["progress"] = percent
                MediaAsset.objects.filter(pk=asset_id, status=Status.PROCESSING).update(**changes)
        except Exception:
            logger.exception("heartbeat for asset %s stopped", asset_id)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-{asset_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@dataclass(frozen=True)
class WorkingCopy:
    """A worker-local file with its size and SHA-256: what ffprobe and ffmpeg read. The
    checksum is known, or still being computed beside the steps that follow (`Beside`)."""

    path: Path
    size: int
    checksum: str | Future[str]

    @property
    def sha256(self) -> str:
        return self.checksum if isinstance(self.checksum, str) else self.checksum.result()

    def read_at(self, offset: int, length: int) -> bytes:
        with open(self.path, "rb") as f:
            f.seek(offset)
            return f.read(length)

    def head(self) -> bytes:
        return self.read_at(0, analysis.SNIFF_BYTES)


def digest(chunks: Iterator[bytes], sink: Callable[[bytes], object] | None = None) -> tuple[int, str]:
    """Size and SHA-256 in one streaming pass, handing each chunk to `sink` on the way."""
    sha = hashlib.sha256()
    size = 0
    for chunk in chunks:
        sha.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink(chunk)
    return size, sha.hexdigest()


def _source(asset: MediaAsset) -> blobs.Blob:
    """The staged upload, or the stored copy if an earlier attempt moved it before crashing."""
    if asset.staging_key:
        staged = blobs.staging_blob(asset.staging_key)
        if staged.exists():
            return staged
    stored = blobs.stored_blob(storage.final_key(asset.id))
    if stored.exists():
        return stored
    raise Unacceptable("The uploaded file is missing from staging; please upload it again.")


class Beside:
    """Work that runs on a second core while ffprobe and ffmpeg run: the checksum of a local
    upload, the poster of a video whose picture the rendition copies, and a remux started
    ahead of the probe (RemuxAhead). A remux is bound by one core's copying; one after the
    other, the checksum and the poster of a one-minute 1080p clip took longer than its remux
    (0.29 s beside 0.18 s, `make bench-transcode`'s source). On leaving with an error (a
    refused file, a hand-off to the transcoders) the checksum stops at its next slice instead
    of reading the rest of the file, and any ffmpeg under way here is killed and what it made
    is not stored. A task has at most three boxed ffmpegs at once (the probe or the
    rendition, a remux ahead being dropped, the poster), each within FFMPEG_MEMORY_BYTES.
    """

    def __init__(self, name: str) -> None:
        # The poster and a remux started ahead of the probe (RemuxAhead).
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix=name)
        # The checksum, on a thread of its own that yields the core (`submit_yielding`).
        self._yielding = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"{name}-low",
                                            initializer=_yield_the_core)
        self.stopping = threading.Event()
        self._stops = [self.stopping]

    def submit(self, fn: Callable[..., T], *args: object) -> Future[T]:
        return self._pool.submit(fn, *args)

    def submit_yielding(self, fn: Callable[..., T], *args: object) -> Future[T]:
        """Work that only has to be done by the end, like the checksum: the remux, the probe
        and the poster take the core first. Beside a remux of 865 MiB (1.2 s), the checksum
        (0.8 s), the probe and the poster fill the second core; at the same priority the
        scheduler shares both cores among them all, and the remux, the longest, ends later
        (`benchmarks/bench_transcode.py --paths remux --rounds 5`, runs on one day: median
        ratios 1.12, 1.12, 1.32 yielding, 1.20, 1.17 not; the rounds spread by +-0.15)."""
        return self._yielding.submit(fn, *args)

    def stop_event(self) -> threading.Event:
        """An event of one piece of work's own, set also when the steps fail."""
        event = threading.Event()
        self._stops.append(event)
        return event

    def __enter__(self) -> Beside:
        return self

    def __exit__(self, exc_type: object, *_: object) -> None:
        if exc_type is not None:
            for event in self._stops:  # the checksum stops at its next slice, ffmpegs are killed
                event.set()
        for pool in (self._pool, self._yielding):
            pool.shutdown(wait=True, cancel_futures=exc_type is not None)


def _yield_the_core() -> None:
    """Lower this thread's priority (Linux's nice value is per thread, setpriority(2))."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), YIELDING_NICE)
    except OSError as exc:  # not Linux's per-thread semantics, or not allowed: share evenly
        logger.debug("the checksum thread keeps its priority: %s", exc)


# How much the checksum yields: at nice 10 a thread has about a tenth of the CPU weight of one
# at 0 (the kernel's weights are 110 and 1024) when they wait for the same core.
YIELDING_NICE = 10


# A slice of the mapped file per hash update: the stop is checked between slices.
DIGEST_SLICE = 16 * 1024 * 1024


def _file_digest(path: Path, stopping: threading.Event) -> str:
    """SHA-256 of a local file, slice by slice, so that it can stop half-way (which
    `hashlib.file_digest` cannot). The file is mapped rather than read: hashing from the
    page cache saves copying every byte into a buffer first, which was a fifth of the
    checksum's cost (865 MiB: 0.80 s and 0.01 s system time mapped, 0.99 s and 0.17-0.23 s
    read into a reused buffer), and the checksum shares its core with a remux's probe and
    poster. The mapping is of a finished upload that nothing writes any more; were it
    truncated under us, the worker would die of SIGBUS and the task, acknowledged late, run
    again."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:  # mmap cannot map an empty file
            return sha.hexdigest()
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            mapped.madvise(mmap.MADV_SEQUENTIAL)
            with memoryview(mapped) as view:
                for offset in range(0, len(view), DIGEST_SLICE):
                    if stopping.is_set():
                        raise CancelledError
                    sha.update(view[offset:offset + DIGEST_SLICE])
    return sha.hexdigest()


def working_copy(source: blobs.Blob, workdir: Path, beside: Beside | None = None) -> WorkingCopy:
    """The upload as a worker-local file. Local staging already is one (hashed `beside` the
    later steps, when given); an S3 object is downloaded into `workdir` in the same pass that
    hashes it (every byte is read for the checksum anyway), so ffmpeg never needs a presigned
    URL."""
    if isinstance(source, blobs.LocalBlob):
        size = source.path.stat().st_size
        if beside is None:
            return WorkingCopy(source.path, size, _file_digest(source.path, threading.Event()))
        return WorkingCopy(source.path, size,
                           beside.submit_yielding(_file_digest, source.path, beside.stopping))
    target = workdir / "upload"
    with open(target, "wb") as f:
        size, sha = digest(source.iter_chunks(), f.write)
    return WorkingCopy(target, size, sha)


def _refuse(mime: str) -> Unacceptable:
    if mime == "application/octet-stream":
        return Unacceptable("This file is not video, audio or a picture that can be read.")
    return Unacceptable(f"Files of type {mime} are not accepted here.")


def sniff(copy: WorkingCopy) -> str:
    """The MIME type libmagic reads from the content; `Unacceptable` for a type outside the
    allow-list, which so never reaches ffmpeg."""
    mime = analysis.sniff_mime(copy.head())
    if (not analysis.accepted(mime, settings.MEDIA_ALLOWED_TYPES)
            and not analysis.needs_probe_to_decide(mime)):
        raise _refuse(mime)
    return mime


def describe(copy: WorkingCopy, workdir: Path | None = None,
             sniffed: str | None = None) -> tuple[str, analysis.MediaInfo, InputFormat]:
    """The real MIME type, from content only, what ffprobe reads of the media, and the demuxer
    the later steps must use. A type outside the allow-list never reaches ffprobe."""
    allowed = settings.MEDIA_ALLOWED_TYPES
    mime = sniffed or sniff(copy)
    info = analysis.probe(copy.path, mime, probe_limits(), scratch=workdir)
    fmt = analysis.probed_format(info, analysis.input_format(mime))
    if not mime.startswith("image/"):
        mime = analysis.refine_mime(mime, info)
    if not analysis.accepted(mime, allowed):
        raise _refuse(mime)
    return mime, info, fmt


def make_rendition(plan: playback.Plan, copy: WorkingCopy, fmt: InputFormat,
                   info: analysis.MediaInfo, workdir: Path,
                   progress: Progress) -> WorkingCopy | None:
    """What browsers will play, where the original does not play as it is (None then)."""
    if plan.method is playback.Method.ORIGINAL:
        return None
    target = workdir / ("playable.png" if plan.is_picture else "playable.mp4")
    renditions.make(plan, copy.path, fmt, info, target, copy.size, progress)
    # No checksum: reading back what ffmpeg just wrote would add a pass over the whole file
    # (a remux is little more than one) for a validator the stream can take from the stored
    # object (media_pipeline.streams.strong_etag). The original's checksum is the asset's.
    return WorkingCopy(target, target.stat().st_size, "")


class RemuxAhead:
    """The remux, started as soon as libmagic has named the file, while ffprobe reads it.

    A remux is one stream copy whose arguments and limits need nothing the probe reads
    (renditions.remux), and the probe costs about a tenth of it: ffprobe's start-up alone
    (Debian's links 215 libraries) is 0.10 s beside a stream copy of about a second per
    900 MiB (`make bench-transcode`). So where the sniffed type may turn out a remux
    (`playback.may_remux`), the copy starts at once. If the plan is a remux of the same
    demuxer, its result is the rendition; otherwise it is killed, and what it wrote
    removed, before anything else is made. A wrong guess (an iPhone's HEVC, AC-3 sound) costs
    the stream copy of the probe's tenth of a second, on the second core. Nothing about
    the file is trusted earlier than before: the copy runs in the same box, with the demuxer
    pinned to the sniffed type, as ffprobe does.
    """

    def __init__(self, beside: Beside, copy: WorkingCopy, mime: str, workdir: Path,
                 progress: Progress) -> None:
        self.fmt = analysis.input_format(mime)
        self.target = workdir / "playable.mp4"
        self.progress = progress
        self.cancel = beside.stop_event()
        progress.start(self.target.with_suffix(".progress"), None)  # the length comes with the probe
        self.future = beside.submit(renditions.remux, copy.path, self.fmt, self.target,
                                    copy.size, progress.path, self.cancel)

    def rendition(self, plan: playback.Plan, fmt: InputFormat,
                  info: analysis.MediaInfo) -> WorkingCopy | None:
        """The remux, if the plan is this one (its failure is the plan's failure); else None,
        once the guess is stopped and its output gone."""
        if plan.method is playback.Method.REMUX and fmt == self.fmt:
            self.progress.duration = info.duration
            self.future.result()
            return WorkingCopy(self.target, self.target.stat().st_size, "")
        self.cancel.set()
        try:
            self.future.result()
        except (CancelledError, Unacceptable, BoxError) as exc:  # the plan's own run will say
            logger.debug("remux ahead stopped: %r", exc)
        self.target.unlink(missing_ok=True)
        logger.debug("remux ahead dropped: the plan is %s", plan.method)
        return None


def store_original(asset: MediaAsset, source: blobs.Blob, copy: WorkingCopy) -> Stored:
    """Keep the upload as it was sent at the asset's original key: a rename, or an S3
    server-side copy; nothing if an earlier attempt already moved it there."""
    key = storage.final_key(asset.id)
    stored = source if source.key == key else blobs.move(source, key)
    etag = stored.etag() if isinstance(stored, blobs.S3Blob) else ""
    return Stored(key=key, size=copy.size, sha256=copy.sha256, etag=etag)


def store_rendition(asset: MediaAsset, rendition: WorkingCopy, mime: str) -> Stored:
    key = storage.playable_key(asset.id)
    stored = blobs.put_file(rendition.path, key, mime)
    etag = stored.etag() if isinstance(stored, blobs.S3Blob) else ""
    return Stored(key=key, size=rendition.size, sha256=rendition.sha256, etag=etag)


@dataclass(frozen=True)
class Poster:
    key: str = ""  # "" for none
    size: int | None = None


def make_poster(asset: MediaAsset, playable: WorkingCopy, fmt: InputFormat,
                info: analysis.MediaInfo, target: Path,
                stopping: threading.Event | None = None) -> Poster:
    """A poster frame for video; a video without one still plays, so failure only logs. Made
    beside the rendition, it stops (ffmpeg killed, nothing stored) once `stopping` is set."""
    try:
        analysis.extract_poster(playable.path, fmt, target, info.duration, poster_limits(),
                                cancel=stopping)
    except Unacceptable as exc:
        logger.warning("no poster for asset %s: %s", asset.id, exc)
        return Poster()
    if not target.is_file():  # ffmpeg found no frame where it looked (a seek past the end)
        logger.warning("no poster for asset %s: no frame at the poster's time", asset.id)
        return Poster()
    if stopping is not None and stopping.is_set():
        return Poster()
    key, size = storage.poster_key(asset.id), target.stat().st_size
    blobs.put_file(target, key, "image/jpeg")
    return Poster(key, size)


class HandOff(Exception):  # not an error: a change of queue
    """The asset needs a full transcode, which runs on its own queue (`transcode_asset`), so a
    long film never holds up the probes of a hundred photos. It is pending again, marked for
    the transcoders."""


def hand_to_transcoders(asset_id: uuid.UUID | str) -> None:
    """Pending again, for the transcode queue; the hand-off is not a failed attempt."""
    MediaAsset.objects.filter(pk=asset_id, status=Status.PROCESSING).update(
        status=Status.PENDING, playback_method=playback.Method.TRANSCODE,
        attempts=F("attempts") - 1, enqueued_at=None, updated_at=timezone.now())


def process(asset_id: uuid.UUID | str, transcode: bool = False) -> MediaAsset | None:
    """Run the pipeline for one asset. Raises only transient errors, for the caller to retry,
    and `HandOff` where a transcode is needed but `transcode` is false."""
    asset = claim(asset_id)
    if asset is None:
        logger.info("asset %s is done or held by another worker; nothing to do", asset_id)
        return None
    if asset.attempts > settings.MEDIA_MAX_ATTEMPTS:
        mark_failed(asset.id, f"Gave up after {asset.attempts - 1} attempts; an operator can requeue it.")
        return None
    progress = Progress()
    with heartbeat(asset.id, progress):
        try:
            return _run(asset, progress, transcode)
        except Unacceptable as exc:
            mark_failed(asset.id, str(exc))
            return None
        except HandOff:
            hand_to_transcoders(asset.id)
            raise
        finally:
            if not MediaAsset.objects.filter(pk=asset.id).exists():
                # Deleted while this run went on: what it stored after the deletion removed
                # the asset's objects (a poster, a rendition) goes too.
                logger.info("asset %s was deleted while it was processed; removing its objects",
                            asset.id)
                blobs.delete_stored(asset.id)


def _index_first(copy: WorkingCopy, mime: str) -> bool:
    return mime not in analysis.MP4_FAMILY or not analysis.moov_after_mdat(copy.read_at, copy.size)


def _run(asset: MediaAsset, progress: Progress, transcode: bool) -> MediaAsset:
    source = _source(asset)
    with (tempfile.TemporaryDirectory(prefix=f"{SCRATCH_PREFIX}{asset.id}-") as tmp,
          Beside(f"asset-{asset.id}") as beside):
        workdir = Path(tmp)
        copy = working_copy(source, workdir, beside)
        if copy.size == 0:
            raise Unacceptable("The file is empty.")
        sniffed = sniff(copy)
        # Not on the transcode queue: an asset there was handed off because it needs more.
        ahead = (RemuxAhead(beside, copy, sniffed, workdir, progress)
                 if not transcode and playback.may_remux(sniffed, _index_first(copy, sniffed))
                 else None)
        mime, info, fmt = describe(copy, workdir, sniffed)
        plan = playback.plan(mime, info, _index_first(copy, mime))
        logger.info("asset %s: %s, %s%s", asset.id, mime, plan.method,
                    f" ({plan.reason})" if plan.reason else "")
        # A picture converts in a moment and stays on this queue.
        if plan.method is playback.Method.TRANSCODE and not plan.is_picture and not transcode:
            raise HandOff
        is_image = mime.startswith("image/")
        poster: Future[Poster] | Poster = Poster()
        if info.has_video and not is_image and plan.method is not playback.Method.TRANSCODE:
            # The rendition has the original's very picture: the poster is made from the
            # original, beside the rendition.
            poster = beside.submit(make_poster, asset, copy, fmt, info, workdir / "poster.jpg",
                                   beside.stopping)
        rendition = ahead.rendition(plan, fmt, info) if ahead else None
        if rendition is None:
            rendition = make_rendition(plan, copy, fmt, info, workdir, progress)
        poster = poster if isinstance(poster, Poster) else poster.result()
        if info.has_video and not is_image and not poster.key and rendition is not None:
            # From the rendition: upright, deinterlaced and tone-mapped as it plays (a
            # transcode), or where the original's container gave no frame there (MPEG-TS).
            poster = make_poster(asset, rendition, InputFormat.pinned("mov"), info,
                                 workdir / "poster.jpg")
        original = store_original(asset, source, copy)
        served = store_rendition(asset, rendition, plan.mime_type) if rendition else original
    video_codec, audio_codec = renditions.playback_codecs(plan, info)
    width, height = info.displayed_size
    now = timezone.now()
    fields = {
        "status": Status.READY, "mime_type": plan.mime_type, "size": served.size,
        "sha256": served.sha256, "storage_key": served.key, "etag": served.etag,
        "playback_method": plan.method, "playback_video_codec": "" if is_image else video_codec,
        "playback_audio_codec": audio_codec,
        "original_key": original.key, "original_mime_type": mime,
        "original_size": original.size, "original_sha256": original.sha256,
        "poster_key": poster.key, "poster_size": poster.size, "staging_key": "",
        "duration": None if is_image else info.duration,
        "width": width, "height": height,
        "video_codec": "" if is_image else info.video_codec,
        "audio_codec": info.audio_codec,
        "error": "", "progress": None, "ready_at": now, "updated_at": now,
    }
    MediaAsset.objects.filter(pk=asset.id).update(**fields)
    logger.info("asset %s ready: %s as %s, %d bytes", asset.id, mime, plan.mime_type, served.size)
    return MediaAsset.objects.get(pk=asset.id)


def stuck_assets() -> list[uuid.UUID]:
    """Assets whose task was never sent (broker down), was lost, or whose worker died."""
    now = timezone.now()
    never_sent = Q(status=Status.PENDING, enqueued_at__isnull=True,
                   created_at__lt=now - timedelta(seconds=settings.MEDIA_ENQUEUE_GRACE_SECONDS))
    lost = Q(status=Status.PENDING, enqueued_at__lt=now - timedelta(seconds=settings.MEDIA_STUCK_AFTER_SECONDS))
    dead_worker = Q(status=Status.PROCESSING, updated_at__lt=now - heartbeat_timeout())
    return list(MediaAsset.objects.filter(never_sent | lost | dead_worker).values_list("pk", flat=True)[:500])


def sweep_scratch() -> int:
    """Remove scratch directories a killed worker left behind (on S3 each holds a whole upload);
    one whose asset is being processed now, under a live claim, is kept. Returns how many went."""
    fresh = timezone.now() - heartbeat_timeout()
    removed = 0
    for path in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*"):
        try:
            asset_id = uuid.UUID(path.name[len(SCRATCH_PREFIX):len(SCRATCH_PREFIX) + 36])
        except ValueError:
            continue
        if MediaAsset.objects.filter(pk=asset_id, status=Status.PROCESSING,
                                     updated_at__gte=fresh).exists():
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed += 1
    if removed:
        logger.info("removed %d scratch directories left by stopped workers", removed)
    return removed
