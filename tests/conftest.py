"""Fixtures that start real services on free loopback ports and always stop them.

Unit tests use pytest-django's test database as usual. Integration tests (marked
`integration`) use these: a real redis-server, moto's S3 server over HTTP, a throwaway
PostgreSQL cluster, and `AppStack`s of gunicorn plus real Celery worker processes.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.services import PostgresCluster, RedisServer, S3Server
from tests.streaming.sites import Site, served_site


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, dict[str, dict[str, str]]]:
    """A site for subprocess servers (gunicorn, uvicorn, nginx) with ready assets: small, big,
    huge (tests/streaming/sites.py, `served_site`)."""
    return served_site(tmp_path_factory.mktemp("stream-site"))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = S3Server(tmp_path_factory.mktemp("s3"))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   timeout=120)


@pytest.fixture(scope="session")
def sample_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Real media made by ffmpeg: MP4 (moov at the end), WebM, MP3, PNG."""
    out = tmp_path_factory.mktemp("samples")
    files = {
        "mp4": out / "clip.mp4",
        "webm": out / "clip.webm",
        "mp3": out / "tone.mp3",
        "png": out / "frame.png",
    }
    video = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25:duration=3",
             "-f", "lavfi", "-i", "sine=frequency=440:duration=3"]
    # ffmpeg writes moov at the end by default: the case the pipeline must fix with +faststart.
    _ffmpeg(*video, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(files["mp4"]))
    _ffmpeg(*video, "-c:v", "libvpx", "-deadline", "realtime", "-b:v", "200k",
            "-c:a", "libvorbis", "-shortest", str(files["webm"]))
    _ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "libmp3lame",
            "-b:a", "64k", str(files["mp3"]))
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:duration=1", "-frames:v", "1", str(files["png"]))
    return files


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """What people really upload (tests/media_pipeline/corpus.py), made once per run."""
    from tests.media_pipeline.corpus import make_corpus

    return make_corpus(tmp_path_factory.mktemp("corpus"))
