"""The apps' import layers (pyproject's [tool.importlinter], also checked by `make lint`):
every app of the platform has its layer, and no import runs upward."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from django.conf import settings
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"


def layered_apps() -> list[str]:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    (layers,) = [contract["layers"] for contract in contracts if contract["type"] == "layers"]
    return sorted(name.strip() for layer in layers for name in re.split(r"[|:]", layer))


def test_it_gives_every_app_of_the_platform_one_layer():
    apps = sorted(
        app.removeprefix("junction.")
        for app in settings.INSTALLED_APPS
        if app.startswith("junction.")
    )
    assert layered_apps() == apps


def test_it_finds_no_import_running_upward_and_no_django_in_the_edge_worker(monkeypatch):
    monkeypatch.chdir(ROOT)
    assert lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True) == 0
