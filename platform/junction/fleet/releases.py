"""Publishing a release: its model and config patch checked the way a worker would use them,
then added as signed TUF targets of every region named, with their custom metadata.

The edge worker's own pure modules do the checking (edge_worker.detect loads the model in ONNX
Runtime, edge_worker.fleet.patch validates the patch with the site-file schema), so what the
platform accepts is what a worker can start on.
"""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from django.core.exceptions import ValidationError
from django.db import transaction

import edge_worker
from edge_worker.config import ConfigError
from edge_worker.contract import ROAD_USER_CLASSES
from edge_worker.fleet.patch import patch_load
from junction.fleet.models import Release
from junction.fleet.repository import NewTarget, targets_add
from junction.residency.planes import served_alias
from junction.residency.services import audit_record

log = logging.getLogger(__name__)

MODEL_TARGET = "model.onnx"
CONFIG_TARGET = "site-patch.yaml"


@dataclass(frozen=True)
class CheckedModel:
    content: bytes
    input_size: tuple[int, int]
    layout: str


def model_check(path: Path) -> CheckedModel:
    """Load the model in ONNX Runtime as a camera process would, and run it once."""
    # Imported here: ONNX Runtime and OpenCV are needed only where releases are published.
    from edge_worker.detect.onnx import OnnxDetector

    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ValidationError({"model": f"cannot read {path}: {exc}"}) from exc
    try:
        # The detector's constructor opens the session, checks the I/O contract and warms up.
        detector = OnnxDetector(path)
    except Exception as exc:  # noqa: BLE001 - whatever ONNX Runtime raises, the release is refused
        raise ValidationError(
            {"model": f"{path} does not load in ONNX Runtime as a Junction detector: {exc}"}
        ) from exc
    return CheckedModel(
        content=content,
        input_size=(detector.input_height, detector.input_width),
        layout=detector.layout,
    )


@dataclass(frozen=True)
class CountingCheck:
    """A clip of the site and its counting lines: the release records the counts its model
    makes there, so a later release's counts can be compared with them."""

    clip: Path
    lines: list[str]  # NAME=X1,Y1,X2,Y2, as the count command takes them
    stride: int = 1


def counting_check_run(model: Path, check: CountingCheck) -> dict[str, Any]:
    """Count the clip with the model through the edge worker's count command (DESIGN.md
    section 5), in its own process as a worker would run it."""
    command = [
        sys.executable,
        "-m",
        "edge_worker",
        "count",
        str(check.clip),
        "--model",
        str(model),
        "--stride",
        str(check.stride),
        "--json",
    ]
    for line in check.lines:
        command += ["--line", line]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise ValidationError(
            {
                "check_clip": f"counting {check.clip} with {model} failed: "
                f"{done.stderr.strip() or done.returncode}"
            }
        )
    result = json.loads(done.stdout)
    with check.clip.open("rb") as clip:
        digest = hashlib.file_digest(clip, "sha256").hexdigest()
    return {
        "clip": check.clip.name,
        "clip_sha256": digest,
        "lines": check.lines,
        "stride": check.stride,
        "totals": result["totals"],
    }


# A new model may count the check clip differently from the region's current one by at most
# this many road users on any counter and direction (issue "Fleet", item 6); the class may
# differ (a pickup is a car to one model and a truck to another).
MAX_COUNT_CHANGE = 1


def counts_compare(
    current: dict[str, Any], new: dict[str, Any] | None, *, current_name: str
) -> None:
    """Refuse a model whose counts on the check clip stray from the current model's, with the
    counter, direction and both counts; a model checked on another clip or lines is refused
    too, since its counts say nothing about this site's."""
    if new is None:
        raise ValidationError(
            {
                "check_clip": (
                    f"the current release {current_name} was checked on "
                    f"{_check_words(current)}; give the same --check-clip, --check-line and "
                    "--check-stride, so the counts can be compared"
                )
            }
        )
    same = ("clip_sha256", "lines", "stride")
    if any(current[key] != new[key] for key in same):
        raise ValidationError(
            {
                "check_clip": (
                    f"the counts cannot be compared: the current release {current_name} was "
                    f"checked on {_check_words(current)}, this one on {_check_words(new)}"
                )
            }
        )
    before, after = _by_line(current["totals"]), _by_line(new["totals"])
    strays = [
        f"{counter} {direction or '(movement)'}: {before.get((counter, direction), 0)} with "
        f"{current_name}, {after.get((counter, direction), 0)} with this model"
        for counter, direction in sorted(set(before) | set(after), key=lambda k: (k[0], k[1] or ""))
        if abs(before.get((counter, direction), 0) - after.get((counter, direction), 0))
        > MAX_COUNT_CHANGE
    ]
    if strays:
        raise ValidationError(
            {
                "model": (
                    f"its counts on {new['clip']} differ from the current release's by more than "
                    f"{MAX_COUNT_CHANGE}: {'; '.join(strays)}"
                )
            }
        )


def _check_words(check: dict[str, Any]) -> str:
    return f"{check['clip']} with {', '.join(check['lines'])} at stride {check['stride']}"


def _by_line(totals: list[dict[str, Any]]) -> dict[tuple[str, str | None], int]:
    counts: dict[tuple[str, str | None], int] = {}
    for row in totals:
        key = (row["counter"], row["direction"])
        counts[key] = counts.get(key, 0) + row["count"]
    return counts


def config_check(path: Path) -> bytes:
    try:
        patch = patch_load(path)
    except ConfigError as exc:
        raise ValidationError(
            {"config": f"{path} fails the edge worker's validation: {exc}"}
        ) from exc
    return yaml.safe_dump(patch, sort_keys=True).encode()


def release_publish(
    *,
    name: str,
    regions: list[str],
    actor: str,
    model: Path | None = None,
    config: Path | None = None,
    counting_check: CountingCheck | None = None,
    min_worker_version: str = edge_worker.__version__,
) -> list[Release]:
    """Check, then publish `name` into each region's repository; nothing is published if the
    model or the patch is refused."""
    if model is None and config is None:
        raise ValidationError("a release needs a model, a config patch, or both")
    if counting_check is not None and model is None:
        raise ValidationError({"check_clip": "a counting check needs the release's model"})
    checked = model_check(model) if model is not None else None
    patch = config_check(config) if config is not None else None
    base = {"release": name, "min_worker_version": min_worker_version}
    targets: list[NewTarget] = []
    custom: dict[str, Any] = {**base}
    if checked is not None:
        model_custom = {
            **base,
            "kind": "model",
            "input_size": list(checked.input_size),
            "layout": checked.layout,
            "classes": list(ROAD_USER_CLASSES),
            "counting_check": counting_check_run(model, counting_check)
            if model is not None and counting_check is not None
            else None,
        }
        targets.append(NewTarget(f"{name}/{MODEL_TARGET}", checked.content, model_custom))
        custom["model"] = model_custom
    if patch is not None:
        config_custom = {**base, "kind": "config"}
        targets.append(NewTarget(f"{name}/{CONFIG_TARGET}", patch, config_custom))
        custom["config"] = config_custom
    return [
        _publish_in(region, name=name, targets=targets, custom=custom, actor=actor)
        for region in regions
    ]


def _publish_in(
    region: str, *, name: str, targets: list[NewTarget], custom: dict[str, Any], actor: str
) -> Release:
    alias = served_alias(region)
    with transaction.atomic(using=alias):
        if Release.objects.in_region(region).filter(name=name).exists():
            raise ValidationError({"name": f"release {name!r} already exists in {region}"})
        if "model" in custom:
            # The region's current model: the newest release that carries one and was checked.
            current = next(
                (
                    r
                    for r in Release.objects.in_region(region).exclude(model_target="")
                    if r.custom.get("model", {}).get("counting_check")
                ),
                None,
            )
            if current is not None:
                counts_compare(
                    current.custom["model"]["counting_check"],
                    custom["model"]["counting_check"],
                    current_name=current.name,
                )
        version = targets_add(region=region, targets=targets)
        release = Release(
            region=region,
            name=name,
            custom=custom,
            published_by=actor,
            model_target=f"{name}/{MODEL_TARGET}" if "model" in custom else "",
            config_target=f"{name}/{CONFIG_TARGET}" if "config" in custom else "",
        )
        release.full_clean(exclude=["region"], validate_unique=False)
        release.save(using=alias)
        audit_record(
            region=region,
            actor=actor,
            action="release_published",
            detail={
                "release": name,
                "targets_version": version,
                "targets": [t.path for t in targets],
            },
        )
    log.info("fleet: release %s published in %s (targets v%s)", name, region, version)
    return release
