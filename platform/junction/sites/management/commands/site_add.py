"""manage.py site_add SLUG --region CODE --name NAME [--timezone ZONE]
[--counter NAME=X1,Y1,X2,Y2 ...]."""

from __future__ import annotations

from django.core.management.base import CommandError

from junction.commands import JunctionCommand
from junction.sites import services
from junction.sites.management.base import site_payload


def parse_counter(value: str) -> tuple[str, dict]:
    """`NAME=X1,Y1,X2,Y2` -> (NAME, {"line": [x1, y1, x2, y2]}) in image pixels."""
    name, sep, coords = value.partition("=")
    parts = coords.split(",")
    if not sep or not name.strip() or len(parts) != 4:
        raise CommandError(f"--counter {value!r} is not of the form NAME=X1,Y1,X2,Y2")
    try:
        line = [float(p) for p in parts]
    except ValueError as exc:
        raise CommandError(f"--counter {value!r}: coordinates must be numbers") from exc
    if line[:2] == line[2:]:
        raise CommandError(f"--counter {value!r}: the line's two ends are the same point")
    return name.strip(), {"line": [int(c) if c.is_integer() else c for c in line]}


class Command(JunctionCommand):
    help = "Register a site (an intersection) in a region, with its counting lines."
    field_options = {"region": "--region", "name": "--name", "timezone": "--timezone"}

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug")
        parser.add_argument("--region", required=True, help="region code")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--counter",
            action="append",
            default=[],
            metavar="NAME=X1,Y1,X2,Y2",
            help="a counting line from P1 to P2 (repeatable)",
        )
        parser.add_argument(
            "--timezone", help="IANA time zone, e.g. America/New_York (default: the region's)"
        )
        parser.add_argument("--lat", type=float, help="latitude, WGS 84 degrees (with --lon)")
        parser.add_argument("--lon", type=float, help="longitude, WGS 84 degrees (with --lat)")

    def handle(self, *args, **options) -> None:
        counters: dict[str, dict] = {}
        for value in options["counter"]:
            name, geometry = parse_counter(value)
            if name in counters:
                raise CommandError(f"--counter {name!r} is given twice")
            counters[name] = geometry
        site = self.run(
            services.site_add,
            slug=options["slug"],
            region=options["region"],
            name=options["name"],
            counters=counters,
            timezone=options["timezone"],
            latitude=options["lat"],
            longitude=options["lon"],
        )
        self.emit(
            options,
            site_payload(site),
            f"site {site.slug} ({site.name}) registered in region {site.region.code} "
            f"({site.timezone}) with {len(counters)} counter(s)",
        )
