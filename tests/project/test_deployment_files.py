"""docker-compose.yml cannot run here (no Docker engine), so its structure is checked instead."""

from __future__ import annotations

from pathlib import Path

import yaml

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


def test_compose_app_environment_uses_only_documented_settings() -> None:
    settings_source = (ROOT / "project" / "settings.py").read_text()
    for name in compose()["services"]["web"]["environment"]:
        assert f'"{name}"' in settings_source, f"{name} is not read by project/settings.py"


def test_app_waits_for_its_dependencies_and_the_bucket() -> None:
    depends = compose()["services"]["worker"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"
    assert depends["redis"]["condition"] == "service_healthy"
    assert depends["createbucket"]["condition"] == "service_completed_successfully"
