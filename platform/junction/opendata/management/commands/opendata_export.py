"""manage.py opendata_export --region CODE [--site SLUG] --start DATE --end DATE
[--period day|hour] [--format csv|json] [--out PATH]: a region's open data, k-suppressed (and
noised when the region sets an epsilon), audited in the region's log."""

from __future__ import annotations

import getpass
import json
from datetime import date
from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from junction.commands import JunctionCommand
from junction.opendata.formats import as_csv, as_document
from junction.opendata.publication import PERIODS
from junction.opendata.services import opendata_export
from junction.residency.errors import MisdirectedRegion
from junction.residency.models import Region
from junction.residency.planes import served_alias
from junction.sites.models import Site


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


class Command(JunctionCommand):
    help = (
        "Export a region's counts as open data over local days [--start, --end): cells "
        "below the region's k withheld with complementary suppression, Laplace noise when "
        "the region sets an epsilon. Without --out the data goes to stdout and the summary "
        "to stderr."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--region", required=True)
        parser.add_argument("--site", help="one site of the region (default: all of them)")
        parser.add_argument("--start", required=True, help="first local day, YYYY-MM-DD")
        parser.add_argument("--end", required=True, help="the day after the last, YYYY-MM-DD")
        parser.add_argument("--period", choices=list(PERIODS), default="day")
        parser.add_argument("--format", choices=["csv", "json"], default="csv")
        parser.add_argument("--out", type=Path, help="file to write (default: stdout)")

    def handle(self, *args, **options) -> None:
        start, end = parse_day(options["start"]), parse_day(options["end"])
        region = Region.objects.filter(code=options["region"]).first()
        if region is None:
            raise CommandError(f"no region {options['region']!r}")
        try:
            served_alias(region.code)
        except MisdirectedRegion as exc:
            raise CommandError(str(exc)) from exc
        out: Path | None = options["out"]
        if out is not None and not out.parent.is_dir():
            # Checked before exporting: a failed write must not leave an audited export behind.
            raise CommandError(f"cannot write {out}: {out.parent} is not a directory")
        site = None
        if options["site"]:
            site = Site.objects.filter(slug=options["site"]).select_related("region").first()
            if site is None:
                raise CommandError(f"no site {options['site']!r}")
        publication = self.run(
            opendata_export,
            region=region,
            actor=_actor(),
            start=start,
            end=end,
            period=options["period"],
            site=site,
        )
        if options["format"] == "json":
            text = json.dumps(as_document(publication), indent=2, default=str) + "\n"
        else:
            text = as_csv(publication)
        summary: dict[str, Any] = {
            "region": region.code,
            "sites": [t.site for t in publication.tables],
            "period": publication.period,
            "start": start,
            "end": end,
            "k": publication.k,
            "noise": publication.noise,
            "cells": sum(t.cells for t in publication.tables),
            "withheld": sum(t.withheld for t in publication.tables),
            "format": options["format"],
            "out": str(options["out"] or "-"),
        }
        line = (
            f"{region.code}: {summary['cells']} cells over {len(summary['sites'])} site(s), "
            f"{summary['withheld']} withheld (k={publication.k}"
            + (
                f", Laplace noise epsilon={publication.epsilon}"
                if publication.epsilon
                else ", no noise"
            )
            + ")"
        )
        if options["out"]:
            try:
                options["out"].write_text(text)
            except OSError as exc:
                raise CommandError(f"cannot write {options['out']}: {exc}") from exc
            self.emit(options, summary, line)
        else:
            self.stdout.write(text, ending="")
            self.stderr.write(json.dumps(summary, default=str) if options["json"] else line)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli"
