"""How an asset comes to be: the row and its task, once its bytes are in staging."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.contrib.auth.models import User

from media_pipeline import storage, tasks
from media_pipeline.ingest import ingest_file
from media_pipeline.models import MediaAsset

pytestmark = pytest.mark.usefixtures("local_media")


@pytest.mark.django_db(transaction=True)  # so that on_commit hooks really run
def test_a_task_that_cannot_be_sent_after_the_commit_keeps_the_upload(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(asset_id: object) -> None:
        raise RuntimeError("the database went away between commit and send")

    monkeypatch.setattr(tasks, "enqueue", broken)
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"\0" * 1000)

    asset = ingest_file(source, User.objects.create_user("ida"))

    row = MediaAsset.objects.get(pk=asset.pk)  # committed; the reconciler will send it
    assert row.status == MediaAsset.Status.PENDING and row.enqueued_at is None
    assert storage.staging_path(row.staging_key).read_bytes() == b"\0" * 1000


@pytest.mark.django_db(transaction=True)
def test_a_row_that_cannot_be_made_leaves_nothing_in_staging(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local_media: Path) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the database refused the row")

    monkeypatch.setattr(MediaAsset.objects, "create", refused)
    source = tmp_path / "clip.mp4"
    source.write_bytes(b"\0" * 1000)
    with pytest.raises(RuntimeError):
        ingest_file(source, User.objects.create_user("ida"))
    assert list((local_media / "staging").iterdir()) == []
