"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml
from django.conf import settings

from media_pipeline.api import MULTIPART_OVERHEAD
from tests.nginx_config import (
    MAIN_CONF,
    PLACEHOLDER_PREFIX,
    SITE_CONF,
    SITE_DIR,
    Directive,
    find,
    only,
    parse,
    placeholders,
    render,
    seconds,
    size,
    the,
)

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service_of_the_multi_machine_deployment() -> None:
    assert {"web", "worker", "beat", "redis", "postgres", "minio", "createbucket"} <= set(compose()["services"])


def test_web_and_worker_share_one_image_and_differ_only_by_command() -> None:
    services = compose()["services"]
    web, worker = services["web"], services["worker"]
    assert web["image"] == worker["image"] and web["build"] == worker["build"] == "."
    assert web["environment"] == worker["environment"]
    assert "gunicorn" in web["command"] and "celery -A worker.celery_app worker" in worker["command"]


def test_transcodes_have_workers_of_their_own_on_the_transcode_queue() -> None:
    services = compose()["services"]
    routes = settings.CELERY_TASK_ROUTES
    assert routes["media_pipeline.transcode_asset"]["queue"] == "transcode"
    assert "--queues transcode" in services["transcode-worker"]["command"]
    assert "--queues celery" in services["worker"]["command"]
    assert services["transcode-worker"]["image"] == services["worker"]["image"]


# Loads project/settings.py with compose's environment, then again with each variable changed
# in turn, and names the variables whose change changed no setting (or made it refuse to load,
# which shows it was read too).
_UNREAD_VARIABLES = """
import importlib, json, os, sys
values = json.loads(sys.argv[1])
os.environ.update(values)
import project.settings as s
def snapshot():
    return {k: repr(getattr(s, k)) for k in dir(s) if k.isupper()}
base = snapshot()
importlib.reload(s)
# Settings whose repr differs between two loads of the same environment (an object's address)
# say nothing either way.
base = {k: v for k, v in snapshot().items() if base.get(k) == v}
def snapshot(full=snapshot):
    return {k: v for k, v in full().items() if k in base}
unread = []
for name, value in values.items():
    read = False
    for probe in ("7", value + "-changed"):
        os.environ[name] = probe
        try:
            importlib.reload(s)
            read = read or snapshot() != base
        except Exception:
            read = True
    os.environ[name] = value
    if not read:
        unread.append(name)
print(json.dumps(unread))
"""


def test_every_variable_compose_sets_is_read_by_the_settings(tmp_path: Path) -> None:
    def resolved(value: str) -> str:  # ${NAME:-default} and ${NAME:?message} as a user sets them
        return re.sub(r"\$\{(\w+)(?::-([^}]*))?(?::\?[^}]*)?\}",
                      lambda m: m[2] if m[2] is not None else f"{m[1].lower()}-{'x' * 50}", value)

    values = {name: resolved(str(value))
              for name, value in compose()["services"]["web"]["environment"].items()}
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("AWS_", "MEDIA_", "STREAM_", "DJANGO_")) and k not in values}
    done = subprocess.run([sys.executable, "-c", _UNREAD_VARIABLES, json.dumps(values)],
                          cwd=ROOT, env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings",
                                         "VAR_DIR": str(tmp_path)},
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [], "compose sets variables project/settings.py never reads"


def test_app_waits_for_its_dependencies_and_the_bucket() -> None:
    depends = compose()["services"]["worker"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["createbucket"]["condition"] == "service_completed_successfully"


# --- the front door: nginx, the one published web port ------------------------------------

MIB = 1024**2
SLOW_CLIENTS = 1000  # what tests/project/test_front_door.py holds against one nginx


def nginx_service() -> dict:
    return compose()["services"]["nginx"]


def site_as_compose_renders_it() -> tuple[Directive, ...]:
    """media.conf as the nginx container sees it: rendered from compose's own values."""
    values = {name: str(value) for name, value in nginx_service()["environment"].items()
              if name.startswith(PLACEHOLDER_PREFIX)}
    return parse(render(SITE_CONF.read_text(), values))


def main_config() -> tuple[Directive, ...]:
    return parse(MAIN_CONF.read_text())


def proxy_headers() -> dict[str, str]:
    return {name: value for name, value in
            (d.args for d in find(site_as_compose_renders_it(), "proxy_set_header"))}


def test_only_nginx_and_minio_publish_ports() -> None:
    published = {name for name, service in compose()["services"].items() if service.get("ports")}
    assert published == {"nginx", "minio"}


def test_minio_publishes_only_its_api_and_only_on_loopback() -> None:
    assert compose()["services"]["minio"]["ports"] == ["127.0.0.1:9000:9000"]


def test_no_password_is_written_in_compose_every_one_is_required_from_the_environment() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in ("SECRET_KEY", "MINIO_ROOT_PASSWORD"):
        # $${...} is the container's own shell reading its environment, not compose.
        uses = re.findall(r"(?<!\$)\$\{" + name + r"(:[?-][^}]*)?\}", text)
        assert uses and all(use.startswith(":?") for use in uses), (name, uses)


def test_web_is_not_published_and_nginx_is_its_upstream() -> None:
    web = compose()["services"]["web"]
    assert "ports" not in web and web["expose"] == ["8000"]
    assert "--bind 0.0.0.0:8000" in web["command"]
    upstream = the(site_as_compose_renders_it(), "upstream")
    assert only(upstream.block, "server") == ("web:8000",)
    assert nginx_service()["depends_on"]["web"]["condition"] == "service_healthy"


def test_web_keeps_its_healthcheck() -> None:
    assert "/healthz" in " ".join(compose()["services"]["web"]["healthcheck"]["test"])


def test_nginx_is_the_official_image_on_a_stable_tag() -> None:
    name, _, tag = nginx_service()["image"].partition(":")
    assert name == "nginx" and tag.startswith("stable")


def test_nginx_runs_the_shipped_config_and_renders_the_site_where_it_is_included() -> None:
    mounts = dict(volume.rsplit(":", 2)[:2] for volume in nginx_service()["volumes"])
    assert all(volume.endswith(":ro") for volume in nginx_service()["volumes"])
    assert mounts["./deploy/nginx/nginx.conf"] == "/etc/nginx/nginx.conf"
    template = PurePosixPath(mounts["./deploy/nginx/media.conf"])
    # The image renders /etc/nginx/templates/<path>.template to <output dir>/<path>.
    rendered = (PurePosixPath(nginx_service()["environment"]["NGINX_ENVSUBST_OUTPUT_DIR"])
                / template.relative_to("/etc/nginx/templates").with_suffix(""))
    (include,) = [d.args[0] for d in find(main_config(), "include") if "mime" not in d.args[0]]
    assert rendered.parent == PurePosixPath("/etc/nginx") / SITE_DIR
    assert rendered.match(str(PurePosixPath("/etc/nginx") / include))


def test_compose_fills_in_every_placeholder_and_envsubst_touches_nothing_else() -> None:
    environment = nginx_service()["environment"]
    pattern = re.compile(environment["NGINX_ENVSUBST_FILTER"])
    given = {name for name in environment if pattern.search(name)}
    assert given == placeholders(SITE_CONF.read_text())
    # nginx's own variables, and the container's usual environment, stay as written.
    assert not any(pattern.search(name) for name in ("http_host", "scheme", "PATH", "HOME"))


@pytest.mark.parametrize(("directive", "longest"), [
    ("client_header_timeout", 15),  # the whole header: what a slowloris may hold a connection
    ("client_body_timeout", 60),
    ("send_timeout", 60),
    ("keepalive_timeout", 30),
])
def test_nginx_bounds_how_long_a_client_may_take(directive: str, longest: float) -> None:
    (value,) = only(site_as_compose_renders_it(), directive)
    assert 0 < seconds(value) <= longest


def test_nginx_resets_timed_out_connections() -> None:
    assert only(site_as_compose_renders_it(), "reset_timedout_connection") == ("on",)


def upload_location() -> Directive:
    [location] = [d for d in find(site_as_compose_renders_it(), "location")
                  if d.args == ("=", "/api/media/")]
    return location


def test_nginx_body_limit_is_the_upload_limit_plus_multipart_room() -> None:
    (value,) = only(upload_location().block, "client_max_body_size")
    assert "MEDIA_MAX_UPLOAD_SIZE" not in compose()["services"]["web"]["environment"]
    # Never below what Django accepts itself (it answers 413 with a reason), and not far above.
    limit = settings.MEDIA_MAX_UPLOAD_SIZE
    assert limit + MULTIPART_OVERHEAD <= size(value) <= limit + MIB


def test_nginx_bounds_each_clients_header_buffers() -> None:
    site = site_as_compose_renders_it()
    (small,) = only(site, "client_header_buffer_size")
    count, large = only(site, "large_client_header_buffers")
    assert size(small) <= 4 * 1024
    assert int(count) * size(large) <= 64 * 1024


def test_nginx_has_room_for_a_thousand_slow_clients_in_one_worker() -> None:
    (connections,) = only(main_config(), "worker_connections")
    (descriptors,) = only(main_config(), "worker_rlimit_nofile")
    # The slow clients and as many proxied requests again, each of those counting twice.
    assert int(connections) >= 3 * SLOW_CLIENTS
    assert int(descriptors) >= 2 * int(connections)
    limits = nginx_service()["ulimits"]["nofile"]
    assert min(limits["soft"], limits["hard"]) >= int(descriptors)


def tus_location() -> Directive:
    [location] = [d for d in find(site_as_compose_renders_it(), "location")
                  if d.args == ("/api/uploads/",)]
    return location


def test_only_uploads_stream_through_nginx_to_django_other_bodies_are_buffered() -> None:
    site = site_as_compose_renders_it()
    assert only(upload_location().block, "proxy_request_buffering") == ("off",)
    assert only(tus_location().block, "proxy_request_buffering") == ("off",)
    assert len(find(site, "proxy_request_buffering")) == 2
    assert only(site, "proxy_http_version") == ("1.1",)


def test_nginx_takes_the_upload_pages_tus_chunks(settings) -> None:
    (value,) = only(tus_location().block, "client_max_body_size")
    assert settings.MEDIA_UPLOAD_CHUNK_SIZE <= size(value) <= 128 * MIB


def test_bodies_other_than_uploads_are_small() -> None:
    [server] = [d for d in site_as_compose_renders_it() if d.name == "server" and d.block]
    (value,) = [d.args[0] for d in server.block if d.name == "client_max_body_size"]
    assert size(value) <= 2 * MIB


def test_web_trusts_exactly_the_one_proxy_hop_nginx_adds() -> None:
    assert compose()["services"]["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"
    assert proxy_headers()["X-Forwarded-For"] == "$proxy_add_x_forwarded_for"
    assert proxy_headers()["X-Forwarded-Proto"] == "$scheme"
