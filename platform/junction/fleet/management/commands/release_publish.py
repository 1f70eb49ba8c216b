"""manage.py release_publish --name NAME [--model MODEL.onnx] [--config SITE-PATCH.yaml]
[--region CODE] [--min-worker-version V] [--check-clip VIDEO --check-line NAME=X1,Y1,X2,Y2
[--check-stride N]] --json (DESIGN.md section 10): check and sign a release
into the regions' repositories; a model ONNX Runtime cannot load or a patch the worker would
refuse is refused, with the reason."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError

import edge_worker
from junction.commands import cli_actor
from junction.fleet.commands import FleetCommand
from junction.fleet.releases import CountingCheck, release_publish


class Command(FleetCommand):
    help = "Publish a release (a model, a site-config patch, or both) as signed TUF targets."
    field_options = {
        "model": "--model",
        "config": "--config",
        "name": "--name",
        "check_clip": "--check-clip",
    }

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--model", type=Path, help="the detector (ONNX)")
        parser.add_argument("--config", type=Path, help="a site-config patch (YAML)")
        parser.add_argument(
            "--region",
            action="append",
            help="publish in this region only (repeatable; default: all served)",
        )
        parser.add_argument(
            "--min-worker-version",
            default=edge_worker.__version__,
            help="oldest edge worker that may install it",
        )
        parser.add_argument(
            "--check-clip",
            type=Path,
            help="a clip of the site: its counts with the model are recorded",
        )
        parser.add_argument(
            "--check-line",
            action="append",
            default=[],
            help="a counting line of the check, NAME=X1,Y1,X2,Y2 (repeatable)",
        )
        parser.add_argument("--check-stride", type=int, default=1)

    def handle(self, *args, **options) -> None:
        if bool(options["check_clip"]) != bool(options["check_line"]):
            raise CommandError("--check-clip and --check-line go together")
        check = (
            CountingCheck(options["check_clip"], options["check_line"], options["check_stride"])
            if options["check_clip"]
            else None
        )
        releases = self.run(
            release_publish,
            name=options["name"],
            model=options["model"],
            config=options["config"],
            actor=cli_actor(),
            counting_check=check,
            regions=options["region"] or list(settings.SERVED_REGIONS),
            min_worker_version=options["min_worker_version"],
        )
        first = releases[0]
        self.emit(
            options,
            {
                "name": first.name,
                "regions": [r.region for r in releases],
                "targets": [t for t in (first.model_target, first.config_target) if t],
                "custom": first.custom,
            },
            f"release {first.name} published in {', '.join(r.region for r in releases)}",
        )
