"""Resumable uploads against the real stack (gunicorn, Redis, a Celery worker, local disk or
moto's S3 over HTTP), with the tus project's own Python client (tuspy) and raw sockets for what
a client does when its connection drops. Nothing here is mocked."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from tusclient import client as tus_client

from tests.services import RedisServer, S3Server
from tests.stack import AppStack

pytestmark = pytest.mark.integration

MIB = 1024 * 1024
TUS = {"Tus-Resumable": "1.0.0"}
OFFSET_TYPE = "application/offset+octet-stream"


@pytest.fixture(scope="module")
def big_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About 20 MiB of real H.264 (lossless, of noise, so it is large), its index at the end:
    several S3 parts, and a file the worker remuxes and makes ready."""
    path = tmp_path_factory.mktemp("tus-media") / "big.mp4"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
                    "-f", "lavfi", "-i", "sine=frequency=330", "-t", "3", "-vf", "noise=alls=30:allf=t",
                    "-c:v", "libx264",
                    "-preset", "ultrafast", "-qp", "0", "-c:a", "aac", str(path)], check=True)
    assert path.stat().st_size > 18 * MIB, path.stat().st_size
    return path


@pytest.fixture(scope="module", params=["local", "s3"])
def stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          redis_server: RedisServer, s3_server: S3Server) -> Iterator[AppStack]:
    extra = s3_server.env() if request.param == "s3" else {"MEDIA_STORAGE": "local"}
    # A short lease, so that one a killed web process held lapses within the test.
    extra["MEDIA_UPLOAD_LEASE_SECONDS"] = "3"
    app = AppStack(tmp_path_factory.mktemp(f"tus-{request.param}"), redis_server.url, extra)
    try:
        app.migrate().start_web()
        app.start_worker("w1", concurrency=1)
        yield app
    finally:
        app.stop()


@pytest.fixture(scope="module")
def token(stack: AppStack) -> str:
    return stack.token("alice")


def tus_for(stack: AppStack, token: str) -> tus_client.TusClient:
    return tus_client.TusClient(stack.base_url + "/api/uploads/",
                                headers={"Authorization": f"Bearer {token}"})


def create(stack: AppStack, token: str, length: int, filename: str = "big.mp4") -> str:
    status, headers, body = stack.request("POST", "/api/uploads/", token=token, headers={
        **TUS, "Upload-Length": str(length),
        "Upload-Metadata": "filename " + base64.b64encode(filename.encode()).decode()})
    assert status == 201, body
    return headers["Location"]


def head(stack: AppStack, token: str, url: str) -> tuple[int, dict[str, str]]:
    status, headers, _ = stack.request("HEAD", url, token=token, headers=TUS)
    return status, headers


def send_cut_off(stack: AppStack, token: str, url: str, body: bytes, offset: int, send: int,
                 before_close=None) -> None:
    """A PATCH declaring all of `body` from `offset`, whose connection drops after `send`
    bytes, as on a train going into a tunnel."""
    with socket.create_connection(("127.0.0.1", stack.port), timeout=30) as conn:
        path = urlsplit(url).path
        conn.sendall((f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTus-Resumable: 1.0.0\r\n"
                      f"Authorization: Bearer {token}\r\nContent-Type: {OFFSET_TYPE}\r\n"
                      f"Upload-Offset: {offset}\r\nContent-Length: {len(body) - offset}\r\n\r\n"
                      ).encode())
        conn.sendall(body[offset:send])
        if before_close:
            before_close()
        with contextlib.suppress(OSError):  # the server may have gone already
            conn.shutdown(socket.SHUT_RDWR)


def wait_for_offset(stack: AppStack, token: str, url: str, at_least: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while True:
        status, headers = head(stack, token, url)
        offset = int(headers.get("Upload-Offset", -1))
        if (status == 200 and offset >= at_least) or time.monotonic() > deadline:
            return offset
        time.sleep(0.1)


def resume(stack: AppStack, token: str, url: str, path: Path, chunk: int = 4 * MIB) -> None:
    uploader = tus_for(stack, token).uploader(str(path), url=stack.base_url + url,
                                              chunk_size=chunk, retries=10, retry_delay=1)
    uploader.upload()


def staged_leftovers(stack: AppStack, s3: S3Server, asset_id: str) -> list[str]:
    """Anything of this upload still in staging once its asset is ready: multipart uploads not
    completed or aborted, tails, the staged object or file."""
    if stack.env.get("MEDIA_STORAGE") == "s3":
        pending = s3.client.list_multipart_uploads(Bucket=s3.bucket, Prefix=f"incoming/{asset_id}")
        return ([u["Key"] for u in pending.get("Uploads", [])] + s3.keys(f"incoming/{asset_id}")
                + s3.keys(f"incoming/tails/{asset_id}/"))
    return [p.name for p in stack.staging_root.glob(f"{asset_id}*")]


def assert_ready_with(stack: AppStack, token: str, s3: S3Server, url: str, path: Path) -> None:
    asset_id = url.rstrip("/").rsplit("/", 1)[1]
    asset = stack.wait_until_done(token, asset_id)
    assert asset["status"] == "ready", asset["error"]
    assert asset["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert asset["size"] == path.stat().st_size
    assert staged_leftovers(stack, s3, asset_id) == []


def test_tuspy_uploads_in_chunks_with_checksums_and_the_asset_ends_ready(
        stack: AppStack, token: str, s3_server: S3Server, big_video: Path) -> None:
    # 3 MiB chunks against 8 MiB S3 parts: most PATCHes end inside a part, so tails are kept
    # and completed; every chunk carries a sha1 the server checks.
    uploader = tus_for(stack, token).uploader(str(big_video), chunk_size=3 * MIB,
                                              metadata={"filename": "big.mp4"},
                                              upload_checksum=True)
    uploader.upload()
    url = urlsplit(uploader.url).path
    assert_ready_with(stack, token, s3_server, url, big_video)
    status, headers = head(stack, token, url)
    assert status == 200 and headers["Upload-Offset"] == headers["Upload-Length"]


def test_a_dropped_patch_keeps_what_arrived_and_the_client_resumes_there(
        stack: AppStack, token: str, s3_server: S3Server, big_video: Path) -> None:
    data = big_video.read_bytes()
    url = create(stack, token, len(data))
    cut = 11 * MIB + 12345  # past one S3 part, inside the second
    send_cut_off(stack, token, url, data, 0, cut)
    # What the server reports is exactly what it received: nothing is sent twice.
    assert wait_for_offset(stack, token, url, cut) == cut
    resume(stack, token, url, big_video)
    assert_ready_with(stack, token, s3_server, url, big_video)


def test_concurrent_patches_to_one_upload_never_interleave(
        stack: AppStack, token: str, s3_server: S3Server, big_video: Path) -> None:
    data = big_video.read_bytes()
    url = create(stack, token, len(data))
    answers: list[int] = []

    def second_patch() -> None:
        status, _, _ = stack.request("PATCH", url, token=token, data=data[:MIB], headers={
            **TUS, "Content-Type": OFFSET_TYPE, "Upload-Offset": "0"})
        answers.append(status)

    # The first PATCH is mid-body, holding the lease, when the second arrives at the same offset.
    send_cut_off(stack, token, url, data, 0, 2 * MIB, before_close=lambda: (
        time.sleep(0.5), second_patch()))
    assert answers == [423]
    assert wait_for_offset(stack, token, url, 2 * MIB) == 2 * MIB
    resume(stack, token, url, big_video)
    assert_ready_with(stack, token, s3_server, url, big_video)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_client_resumes_after_the_web_process_restarts_mid_upload(
        stack: AppStack, token: str, s3_server: S3Server, big_video: Path, sig: int) -> None:
    data = big_video.read_bytes()
    url = create(stack, token, len(data))
    sent = 13 * MIB + 999

    def restart() -> None:
        time.sleep(0.5)  # the server has read what was sent
        stack.stop_web(sig)

    send_cut_off(stack, token, url, data, 0, sent, before_close=restart)
    stack.start_web()
    offset = wait_for_offset(stack, token, url, 0)
    # The PATCH was still reading when its process went (SIGTERM: gunicorn's graceful timeout
    # ends it): what arrived since its last commit, at most one part, is gone; nothing it
    # committed is.
    assert sent - 8 * MIB <= offset <= sent
    resume(stack, token, url, big_video)  # retries the 423 until the dead PATCH's lease lapses
    assert_ready_with(stack, token, s3_server, url, big_video)


def test_termination_removes_every_staged_byte(stack: AppStack, token: str, s3_server: S3Server,
                                               big_video: Path) -> None:
    data = big_video.read_bytes()
    url = create(stack, token, len(data))
    send_cut_off(stack, token, url, data, 0, 9 * MIB + 5)  # a part and a tail
    wait_for_offset(stack, token, url, 9 * MIB + 5)
    asset_id = url.rstrip("/").rsplit("/", 1)[1]
    assert staged_leftovers(stack, s3_server, asset_id) != []
    status, _, _ = stack.request("DELETE", url, token=token, headers=TUS)
    assert status == 204
    assert staged_leftovers(stack, s3_server, asset_id) == []
    assert head(stack, token, url)[0] == 404


def test_another_users_upload_is_404(stack: AppStack, token: str) -> None:
    url = create(stack, token, 100)
    other = stack.token("mallory")
    assert head(stack, other, url)[0] == 404
    status, _, _ = stack.request("PATCH", url, token=other, data=b"x" * 100, headers={
        **TUS, "Content-Type": OFFSET_TYPE, "Upload-Offset": "0"})
    assert status == 404
    assert head(stack, token, url)[0] == 200


@pytest.fixture(scope="module", params=["local", "s3"])
def reaping_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                  redis_server: RedisServer, s3_server: S3Server) -> Iterator[AppStack]:
    """Uploads expire after 2 s here, and the worker's beat reaps every second."""
    extra = s3_server.env() if request.param == "s3" else {"MEDIA_STORAGE": "local"}
    extra |= {"MEDIA_UPLOAD_EXPIRY_SECONDS": "2", "MEDIA_REAP_UPLOADS_EVERY_SECONDS": "1"}
    app = AppStack(tmp_path_factory.mktemp(f"tus-reap-{request.param}"), f"{redis_server.url[:-2]}/5", extra)
    try:
        app.migrate().start_web()
        app.start_worker("w1", beat=True)
        yield app
    finally:
        app.stop()


def test_abandoned_uploads_expire_and_are_reaped(reaping_stack: AppStack, s3_server: S3Server,
                                                 big_video: Path) -> None:
    token = reaping_stack.token("alice")
    data = big_video.read_bytes()
    url = create(reaping_stack, token, len(data))
    send_cut_off(reaping_stack, token, url, data, 0, 9 * MIB + 5)
    asset_id = url.rstrip("/").rsplit("/", 1)[1]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and head(reaping_stack, token, url)[0] != 404:
        time.sleep(0.25)
    assert head(reaping_stack, token, url)[0] == 404  # 410 while expired, then gone
    assert staged_leftovers(reaping_stack, s3_server, asset_id) == []
    status, _, _ = reaping_stack.request("GET", f"/api/media/{asset_id}/", token=token)
    assert status == 404
