"""Claiming and reconciling, the rules that keep one asset from being processed twice."""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import tempfile
import threading
from concurrent.futures import CancelledError
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from media_pipeline import blobs, processing, storage
from media_pipeline.models import MediaAsset

pytestmark = pytest.mark.django_db
Status = MediaAsset.Status


@pytest.fixture
def asset() -> MediaAsset:
    owner = User.objects.create_user("alice")
    return MediaAsset.objects.create(owner=owner, filename="a.mp4", storage="local", staging_key="x.upload")


def age(asset: MediaAsset, **fields: object) -> None:
    MediaAsset.objects.filter(pk=asset.pk).update(**fields)


def test_pending_asset_is_claimed_once(asset: MediaAsset) -> None:
    first = processing.claim(asset.id)
    second = processing.claim(asset.id)

    assert first is not None and first.status == Status.PROCESSING and first.attempts == 1
    assert second is None


def test_processing_asset_with_a_stale_heartbeat_can_be_claimed_again(asset: MediaAsset) -> None:
    processing.claim(asset.id)
    age(asset, updated_at=timezone.now() - processing.heartbeat_timeout() - timedelta(seconds=1))

    again = processing.claim(asset.id)

    assert again is not None and again.attempts == 2


@pytest.mark.parametrize("status", [Status.READY, Status.FAILED])
def test_finished_asset_is_never_claimed(asset: MediaAsset, status: str) -> None:
    age(asset, status=status)
    assert processing.claim(asset.id) is None


def test_failure_never_overwrites_a_ready_asset(asset: MediaAsset) -> None:
    age(asset, status=Status.READY)
    processing.mark_failed(asset.id, "late duplicate")
    asset.refresh_from_db()
    assert asset.status == Status.READY and asset.error == ""


def test_released_asset_is_pending_with_the_reason(asset: MediaAsset) -> None:
    processing.claim(asset.id)
    processing.release(asset.id, "S3 down")
    asset.refresh_from_db()
    assert asset.status == Status.PENDING and asset.error == "S3 down"


def test_too_many_attempts_end_in_failure_with_a_reason(asset: MediaAsset, settings) -> None:
    age(asset, attempts=settings.MEDIA_MAX_ATTEMPTS)
    processing.process(asset.id)
    asset.refresh_from_db()
    assert asset.status == Status.FAILED and "Gave up" in asset.error


def test_stuck_assets_are_the_unsent_the_lost_and_the_orphaned(asset: MediaAsset, settings) -> None:
    owner = asset.owner
    long_ago = timezone.now() - timedelta(days=1)
    fresh = MediaAsset.objects.create(owner=owner, filename="b", storage="local", enqueued_at=timezone.now())
    lost = MediaAsset.objects.create(owner=owner, filename="c", storage="local")
    orphan = MediaAsset.objects.create(owner=owner, filename="d", storage="local")
    working = MediaAsset.objects.create(owner=owner, filename="e", storage="local")
    age(asset, created_at=long_ago)  # never enqueued (broker was down)
    age(lost, enqueued_at=long_ago)
    age(orphan, status=Status.PROCESSING, updated_at=long_ago)
    age(working, status=Status.PROCESSING, updated_at=timezone.now())

    stuck = set(processing.stuck_assets())

    assert stuck == {asset.id, lost.id, orphan.id}
    assert fresh.id not in stuck


def test_scratch_left_by_a_dead_worker_is_swept_and_a_live_claim_keeps_its_own(
        asset: MediaAsset, tmp_path, monkeypatch) -> None:
    import tempfile
    import uuid

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    live = MediaAsset.objects.create(owner=asset.owner, filename="live", storage="local")
    processing.claim(live.id)  # processing now, heartbeat fresh
    dead = tmp_path / f"asset-{asset.id}-abc"
    kept = tmp_path / f"asset-{live.id}-def"
    unknown = tmp_path / f"asset-{uuid.uuid4()}-ghi"
    other = tmp_path / "pymp-123"
    for directory in (dead, kept, unknown, other):
        (directory / "upload").parent.mkdir()
        (directory / "upload").write_bytes(b"x")

    assert processing.sweep_scratch() == 2

    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([kept.name, other.name])


def test_work_submitted_to_yield_runs_at_a_lower_priority_than_the_task() -> None:
    """The checksum's thread gives the core to the remux, the probe and the poster."""
    def priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    with processing.Beside("test") as beside:
        yielding = beside.submit_yielding(priority).result(timeout=5)
        ordinary = beside.submit(priority).result(timeout=5)
    assert ordinary == priority()
    assert yielding == min(19, priority() + processing.YIELDING_NICE)
    assert yielding > ordinary


def test_a_checksum_beside_stops_at_its_next_slice_when_the_steps_fail(tmp_path: Path) -> None:
    """A refused file or a hand-off does not wait for the rest of a large upload to be read."""
    endless = tmp_path / "upload"
    with open(endless, "wb") as f:  # 64 GiB, sparse: a minute's hashing, were it not stopped
        f.truncate(64 * 2**30)

    with pytest.raises(RuntimeError), processing.Beside("test") as beside:  # noqa: PT012
        copy = processing.working_copy(blobs.LocalBlob("upload", endless), tmp_path, beside)
        raise RuntimeError("the file was refused")
    assert isinstance(copy.checksum.exception(timeout=5), CancelledError)


@pytest.mark.parametrize("size", [0, 1, blobs.READ_CHUNK, 3 * blobs.READ_CHUNK + 17,
                                  processing.DIGEST_SLICE, 2 * processing.DIGEST_SLICE + 17])
def test_a_local_uploads_checksum_is_its_sha256(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "upload").write_bytes(data)
    with processing.Beside("test") as beside:
        beside_copy = processing.working_copy(blobs.LocalBlob("upload", tmp_path / "upload"),
                                              tmp_path, beside)
        assert beside_copy.sha256 == hashlib.sha256(data).hexdigest()
    alone = processing.working_copy(blobs.LocalBlob("upload", tmp_path / "upload"), tmp_path)
    assert (alone.size, alone.sha256) == (size, hashlib.sha256(data).hexdigest())


@pytest.mark.django_db(transaction=True)  # the poster is stored from a second thread
def test_an_asset_deleted_while_it_is_processed_keeps_no_object(local_media: Path, sample_media,
                                                                monkeypatch) -> None:
    """The owner deletes the asset just before its poster is stored: what the run stores
    after the deletion is removed too."""
    from media_pipeline import storage
    from media_pipeline.ingest import ingest_file
    from media_pipeline.removal import delete_asset

    owner = User.objects.create_user("olga")
    asset = ingest_file(sample_media["mp4"], owner)  # its index is at the end: remux + poster
    put_file = blobs.put_file

    def deleted_first(path: Path, key: str, content_type: str):
        if key == storage.poster_key(asset.id) and MediaAsset.objects.filter(pk=asset.pk).exists():
            delete_asset(MediaAsset.objects.get(pk=asset.pk))  # the DELETE lands mid-run
        return put_file(path, key, content_type)

    monkeypatch.setattr(blobs, "put_file", deleted_first)
    with pytest.raises(FileNotFoundError):  # the staged upload went with the asset
        processing.process(asset.id)
    assert not MediaAsset.objects.filter(pk=asset.pk).exists()
    left = [p for p in (local_media / "media").rglob("*") if p.is_file()]
    assert left == [], left
    assert not storage.staging_path(f"{asset.id}.upload").exists()


def _mkv(path: Path, video: list[str], audio: list[str]) -> Path:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y",
                    "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=2",
                    "-f", "lavfi", "-i", "sine=frequency=440:duration=2",
                    *video, "-pix_fmt", "yuv420p", *audio, "-shortest", str(path)],
                   check=True, timeout=120)
    return path


H264 = ["-c:v", "libx264", "-preset", "ultrafast"]


def _steps(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The boxed ffmpeg runs that finished, by step name."""
    return [m.split("step='")[1].split("'")[0] for m in caplog.messages if "ffmpeg-box tool=" in m]


@pytest.mark.django_db(transaction=True)  # the remux runs ahead in a second thread
def test_a_remux_started_before_the_probe_is_the_rendition(local_media: Path, tmp_path: Path,
                                                          caplog) -> None:
    from media_pipeline.ingest import ingest_file

    caplog.set_level(logging.DEBUG, logger="media_pipeline")
    owner = User.objects.create_user("rhea")
    asset = ingest_file(_mkv(tmp_path / "clip.mkv", H264, ["-c:a", "aac"]), owner)
    done = processing.process(asset.id)
    assert (done.status, done.playback_method) == (Status.READY, "remux")
    assert _steps(caplog).count("Preparing the video for streaming") == 1
    assert not any("remux ahead dropped" in m for m in caplog.messages)
    rendition = local_media / "media" / done.storage_key
    assert _probe(rendition, "format=format_name") == "mov,mp4,m4a,3gp,3g2,mj2"


@pytest.mark.django_db(transaction=True)
def test_a_remux_guessed_wrong_is_stopped_and_the_plans_own_rendition_stored(
        local_media: Path, tmp_path: Path, caplog) -> None:
    """AC-3 sound: the plan copies the picture and converts the sound. The stream copy started
    ahead of the probe is dropped (killed if still running: test_ffmpeg shows a cancelled
    run killed and reaped), and what is stored has AAC."""
    from media_pipeline.ingest import ingest_file

    caplog.set_level(logging.DEBUG, logger="media_pipeline")
    owner = User.objects.create_user("remi")
    asset = ingest_file(_mkv(tmp_path / "clip.mkv", H264, ["-c:a", "ac3"]), owner)
    done = processing.process(asset.id)
    assert (done.status, done.playback_method) == (Status.READY, "audio")
    assert any("remux ahead dropped" in m for m in caplog.messages)
    assert _steps(caplog).count("Converting the sound for browsers") == 1
    rendition = local_media / "media" / done.storage_key
    assert _probe(rendition, "stream=codec_name") == "h264\naac"


@pytest.mark.django_db(transaction=True)
def test_a_hand_off_to_the_transcoders_leaves_no_remux_running(local_media: Path,
                                                                tmp_path: Path) -> None:
    from media_pipeline.ingest import ingest_file

    owner = User.objects.create_user("hana")
    source = _mkv(tmp_path / "clip.mkv", ["-c:v", "libx265", "-preset", "ultrafast",
                                          "-x265-params", "log-level=error"], ["-c:a", "aac"])
    asset = ingest_file(source, owner)
    staged = storage.staging_path(MediaAsset.objects.get(pk=asset.pk).staging_key)
    with pytest.raises(processing.HandOff):
        processing.process(asset.id)
    assert subprocess.run(["pgrep", "-f", str(staged)], capture_output=True,
                          check=False).returncode == 1
    assert not list(Path(tempfile.gettempdir()).glob(f"{processing.SCRATCH_PREFIX}{asset.id}*"))
    done = processing.process(asset.id, transcode=True)
    assert (done.status, done.playback_method) == (Status.READY, "transcode")


def _probe(path: Path, entries: str) -> str:
    return subprocess.run(["ffprobe", "-v", "error", "-show_entries", entries, "-of",
                           "default=nw=1:nk=1", str(path)],
                          capture_output=True, text=True, check=True).stdout.strip()
