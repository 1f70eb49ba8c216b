"""Every model declares its plane; tables live only in their plane's databases."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.db import connections, models

from junction.residency.planes import Plane, plane_of, region_of_alias
from tests.platform.conftest import region_databases

REPO = Path(__file__).resolve().parents[3]


def junction_models():
    return [m for m in apps.get_models() if m.__module__.startswith("junction.")]


def test_it_keeps_the_standard_library_platform_module_importable():
    result = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system())"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip()
    assert not (REPO / "platform" / "__init__.py").exists()


def test_it_finds_that_every_junction_model_declares_a_plane():
    assert junction_models()
    for model in junction_models():
        assert "residency_plane" in vars(model) or any(
            "residency_plane" in vars(base) for base in model.__mro__[1:]
        ), model
        assert plane_of(model) in (Plane.CONTROL, Plane.REGION)


def test_it_finds_no_foreign_key_crossing_planes():
    for model in junction_models():
        for field in model._meta.get_fields():
            if isinstance(field, models.ForeignKey | models.OneToOneField):
                assert plane_of(field.related_model) is plane_of(model), (
                    f"{model._meta.label}.{field.name} -> {field.related_model._meta.label}"
                )


def _tables(alias: str) -> set[str]:
    with connections[alias].cursor() as cursor:
        return set(connections[alias].introspection.table_names(cursor))


def test_it_puts_region_tables_only_in_region_databases_and_control_tables_only_in_default():
    region_tables = {m._meta.db_table for m in junction_models() if plane_of(m) is Plane.REGION}
    control_tables = {m._meta.db_table for m in apps.get_models() if plane_of(m) is Plane.CONTROL}
    assert region_tables and control_tables
    assert not region_tables & _tables("default")
    assert control_tables <= _tables("default")
    for alias in region_databases():
        assert region_of_alias(alias)
        assert region_tables <= _tables(alias)
        assert not control_tables & _tables(alias), alias


@pytest.mark.parametrize("alias_index", [0, 1])
def test_it_migrates_region_tables_per_region(alias_index):
    aliases = region_databases()
    if alias_index >= len(aliases):
        pytest.skip("only one region served")
    assert "traffic_countrow" in _tables(aliases[alias_index])
