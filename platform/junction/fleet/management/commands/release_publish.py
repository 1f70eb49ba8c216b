"""manage.py release_publish --name NAME [--model MODEL.onnx] [--config SITE-PATCH.yaml]
[--region CODE] [--min-worker-version V] --json (DESIGN.md section 10): check and sign a release
into the regions' repositories; a model ONNX Runtime cannot load or a patch the worker would
refuse is refused, with the reason."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

import edge_worker
from junction.commands import cli_actor
from junction.fleet.commands import FleetCommand
from junction.fleet.releases import release_publish


class Command(FleetCommand):
    help = "Publish a release (a model, a site-config patch, or both) as signed TUF targets."
    field_options = {"model": "--model", "config": "--config", "name": "--name"}

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--model", type=Path, help="the detector (ONNX)")
        parser.add_argument("--config", type=Path, help="a site-config patch (YAML)")
        parser.add_argument("--region", action="append",
                            help="publish in this region only (repeatable; default: all served)")
        parser.add_argument("--min-worker-version", default=edge_worker.__version__,
                            help="oldest edge worker that may install it")

    def handle(self, *args, **options) -> None:
        releases = self.run(release_publish, name=options["name"], model=options["model"],
                            config=options["config"], actor=cli_actor(),
                            regions=options["region"] or list(settings.SERVED_REGIONS),
                            min_worker_version=options["min_worker_version"])
        first = releases[0]
        self.emit(options, {"name": first.name, "regions": [r.region for r in releases],
                            "targets": [t for t in (first.model_target, first.config_target)
                                        if t],
                            "custom": first.custom},
                  f"release {first.name} published in "
                  f"{', '.join(r.region for r in releases)}")
