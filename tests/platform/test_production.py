"""Production settings (JUNCTION_PRODUCTION=1): Django's deploy check finds nothing, and a
weak secret key stops the process at start-up with the reason."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, key: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "DATABASE_URL",
            "JUNCTION_REGIONS",
            "REDIS_URL",
            "JUNCTION_REGION",
            "DJANGO_ALLOW_ASYNC_UNSAFE",
        )
    }
    env.update(
        JUNCTION_PRODUCTION="1",
        DJANGO_SECRET_KEY=key,
        ALLOWED_HOSTS="junction.example",
        JUNCTION_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="junction.settings",
    )
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_deploy_check_is_clean(tmp_path):
    done = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        key=secrets.token_urlsafe(50),
        tmp_path=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "System check identified no issues (0 silenced)" in done.stdout


def test_a_weak_secret_key_stops_the_start_with_the_reason(tmp_path):
    done = manage("check", key="django-insecure-" + "x" * 40, tmp_path=tmp_path)
    assert done.returncode != 0
    assert "refuses DJANGO_SECRET_KEY: it is a development key" in done.stderr
