"""No key in the repository signs anything: the embedded setup makes its own under var/."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from project.secret_key import local_secret_key
from tests.services import ROOT

PRINT_KEY = "from django.conf import settings; print(settings.SECRET_KEY)"


def settings_key(var_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "DJANGO_DEBUG")}
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {PRINT_KEY}"], cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": "project.settings", "VAR_DIR": str(var_dir), **env},
        capture_output=True, text=True, timeout=60, check=False)


def test_the_first_start_makes_a_random_key_readable_by_its_owner_only(tmp_path: Path) -> None:
    key = local_secret_key(tmp_path / "var" / "secret_key")
    assert len(key) >= 50
    assert stat.S_IMODE((tmp_path / "var" / "secret_key").stat().st_mode) == 0o600


def test_later_starts_use_the_same_key(tmp_path: Path) -> None:
    assert local_secret_key(tmp_path / "k") == local_secret_key(tmp_path / "k")


def test_two_installations_get_different_keys(tmp_path: Path) -> None:
    assert local_secret_key(tmp_path / "a") != local_secret_key(tmp_path / "b")


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: local_secret_key(tmp_path / "k"), range(32)))
    assert len(keys) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["k"]  # no drafts left behind


def test_settings_without_a_key_use_the_one_under_var(tmp_path: Path) -> None:
    first = settings_key(tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == (tmp_path / "secret_key").read_text().strip()
    assert settings_key(tmp_path).stdout == first.stdout


def test_a_key_from_the_environment_wins_and_nothing_is_written(tmp_path: Path) -> None:
    given = settings_key(tmp_path, SECRET_KEY="s" * 50)
    assert given.stdout.strip() == "s" * 50
    assert not (tmp_path / "secret_key").exists()


def test_production_without_a_key_refuses_to_start(tmp_path: Path) -> None:
    refused = settings_key(tmp_path, DJANGO_DEBUG="false", ALLOWED_HOSTS="example.com")
    assert refused.returncode != 0 and "needs SECRET_KEY" in refused.stderr
    assert not (tmp_path / "secret_key").exists()

