"""Typed readers for settings that come from the environment; each fails loudly at start-up.

A value may also come from a file named by `<NAME>_FILE` (container secrets), which wins over
the plain variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import overload

from django.core.exceptions import ImproperlyConfigured


@overload
def env_str(name: str, default: str) -> str: ...
@overload
def env_str(name: str, default: None = None) -> str | None: ...
def env_str(name: str, default: str | None = None) -> str | None:
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path!r} cannot be read: {exc}") from exc
    value = os.environ.get(name)
    return default if value is None or value == "" else value


def env_bool(name: str, default: bool = False) -> bool:
    value = env_str(name)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use 1/0, true/false)")


def env_int(name: str, default: int) -> int:
    value = env_str(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from exc


def env_regions(name: str, default: str) -> dict[str, str]:
    """Parse `code=database-url,code=database-url` into an ordered {code: url} mapping."""
    value = env_str(name, default) or ""
    regions: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        code, sep, url = item.partition("=")
        code, url = code.strip(), url.strip()
        if not sep or not code or not url:
            raise ImproperlyConfigured(f"{name}: {item!r} is not of the form code=database-url")
        if code in regions:
            raise ImproperlyConfigured(f"{name}: region {code!r} is listed twice")
        regions[code] = url
    if not regions:
        raise ImproperlyConfigured(f"{name} names no region")
    return regions


def secret_key_weakness(key: str) -> str | None:
    """Why a secret key is too weak to sign sessions and seal device secrets, or None.

    The same bar as Django's deploy check (50 characters, 5 distinct, not a generated
    development key), enforced at start-up in production rather than left as a warning.
    """
    if len(key) < 50:
        return f"it has {len(key)} characters, fewer than 50"
    if len(set(key)) < 5:
        return "it has fewer than 5 distinct characters"
    if key.startswith("django-insecure-"):
        return "it is a development key (django-insecure-...)"
    return None
