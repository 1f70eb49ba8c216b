"""The site file as the live release makes it: the release's config patch over the site file's
keys, and its model in place of the site file's. The camera processes read it from a file of
its own (`<slots>/site-<release>.yaml`, every path absolute), so the site file stays as written.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import yaml
from pydantic import ValidationError

from edge_worker.config import (
    ConfigError,
    SiteConfig,
    _error_lines,
    file_sha256,
    verify_model_digest,
)
from edge_worker.fleet.slots import SlotError, Slots

log = logging.getLogger(__name__)

MODEL_FILE = "model.onnx"
PATCH_FILE = "site-patch.yaml"


def release_config(config: SiteConfig, slot: Path) -> SiteConfig:
    """`config` with the slot's patch and model; ConfigError if they do not make a valid site."""
    data = config.model_dump(mode="json")
    patch = slot / PATCH_FILE
    if patch.is_file():
        data.update(yaml.safe_load(patch.read_text(encoding="utf-8")))
    model = slot / MODEL_FILE
    if model.is_file():
        # Verified by TUF on its way into the slot; the digest names it in every batch.
        data["model"] = {
            "path": str(model),
            "sha256": file_sha256(model),
            "name": config.model.name,
        }
    try:
        return SiteConfig.model_validate(data, context={"base": slot})
    except ValidationError as exc:
        raise ConfigError(f"release {slot.name}:\n{_error_lines(exc)}") from exc


def live_site_file(site_file: str, config: SiteConfig) -> tuple[str, SiteConfig]:
    """The site file the camera processes should read now, and what it holds: the site file
    itself while no release is live, else the live release's own, written atomically."""
    if config.fleet is None:
        return site_file, config
    slots = Slots(config.fleet.slots)
    live = slots.live()
    if live is None:
        return site_file, config
    effective = release_config(config, slots.path_of(live))
    path = slots.root / f"site-{live}.yaml"
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(
        yaml.safe_dump(effective.model_dump(mode="json"), sort_keys=False), encoding="utf-8"
    )
    os.replace(temporary, path)
    return str(path), effective


def boot_site_file(site_file: str, config: SiteConfig) -> tuple[str, SiteConfig]:
    """live_site_file at the worker's start, with its model checked. A live release the cameras
    cannot start on (a power cut came before its rollback) steps back to the one before, or to
    the site file's own, instead of leaving a device that never boots; the update agent then
    reports it rolled back."""
    try:
        site_file_now, live = live_site_file(site_file, config)
        verify_model_digest(live.model)
        return site_file_now, live
    except ConfigError as exc:
        if config.fleet is None or Slots(config.fleet.slots).live() is None:
            raise
        slots = Slots(config.fleet.slots)
        log.error("fleet: the live release %s cannot start (%s); stepping back", slots.live(), exc)
        try:
            slots.rollback()
        except SlotError:
            slots.deactivate()
        return boot_site_file(site_file, config)
