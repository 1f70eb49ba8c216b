"""Fixtures of the demo's tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def var_dir(settings, tmp_path):
    """The demo's files (device secrets, staff passwords) in this test's own folder."""
    settings.VAR_DIR = tmp_path
    # demo_seed hashes real passwords; the slow production hasher would dominate the run.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return tmp_path
