"""Shared test plumbing: services and data that tests need, and the skip-or-fail rule.

On a developer's machine a test whose service or data is missing is skipped with the reason;
in CI (JUNCTION_REQUIRE_SERVICES=1) it fails instead, so nothing is silently not tested.
"""

from __future__ import annotations

import os

import pytest


def require(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("JUNCTION_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required for this run but missing: {reason}")
    pytest.skip(reason)


def pytest_collection_modifyitems(config, items):
    """Leave `postgres_pass` tests out of the embedded (SQLite) pass: they exist to prove the
    production stack (a real worker on a Redis broker), which the PostgreSQL pass runs."""
    if os.environ.get("JUNCTION_TEST_BACKEND") == "postgres":
        return
    kept = [item for item in items if item.get_closest_marker("postgres_pass") is None]
    if len(kept) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in kept])
        items[:] = kept
