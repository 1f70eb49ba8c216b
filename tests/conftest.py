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
