"""A site-config patch: the part of a site file a fleet release may replace.

A patch is a mapping of top-level site-file keys to their new values. It may not touch who the
device is or how it authenticates (device_id, site, region, endpoint, secrets), nor the model
(a release delivers it as its own target), nor where releases and the trusted root are kept.
The values are validated by the site file's own schema (edge_worker.config: every field's
constraints and validators, the rules across cameras), so the platform refuses at publish time
what a worker would refuse at start.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError, create_model, model_validator
from pydantic.fields import FieldInfo

from edge_worker.config import ConfigError, SiteConfig, _error_lines, cameras_check

FIXED_KEYS = frozenset(
    {
        "device_id",
        "site",
        "region",
        "endpoint",
        "allowed_endpoints",
        "secret_file",
        "secret_env",
        "model",
        "fleet",
    }
)


class _PatchRules(SiteConfig):
    @model_validator(mode="after")
    def _site_wide_rules(self) -> _PatchRules:
        # Overrides the site file's rule by name: a patch has no secret, only its cameras.
        if "cameras" in self.model_fields_set:
            cameras_check(self.cameras)
        return self


# The site file's fields, the required ones made optional (a key the patch leaves out is not
# validated), each keeping its constraints and validators.
ConfigPatch = create_model(  # type: ignore[call-overload]
    "ConfigPatch",
    __base__=_PatchRules,
    **{
        name: (info.annotation, FieldInfo.merge_field_infos(info, default=None))
        for name, info in SiteConfig.model_fields.items()
        if info.is_required()
    },
)


def patch_load(path: str | Path) -> dict[str, Any]:
    """Read and validate a patch file; ConfigError names the key and what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config patch {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from exc
    patch_check(data, base=path.resolve().parent)
    return data


def patch_check(data: object, *, base: Path) -> None:
    if not isinstance(data, dict) or not data:
        raise ConfigError("a config patch must be a non-empty mapping of site-file keys")
    fixed = sorted(FIXED_KEYS & set(data))
    if fixed:
        raise ConfigError(
            f"{', '.join(fixed)}: a release cannot change identity, credentials "
            "or the model through a config patch"
        )
    try:
        ConfigPatch.model_validate(data, context={"base": base})
    except ValidationError as exc:
        raise ConfigError(_error_lines(exc).replace("\n", "; ")) from exc
