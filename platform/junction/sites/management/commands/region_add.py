"""manage.py region_add CODE --name NAME [--timezone ZONE] [--country CC] [--subdivision SUB]
[...]: register a region, its policy, its local time and its public-holiday calendar."""

from __future__ import annotations

from junction.commands import JunctionCommand
from junction.sites import services
from junction.sites.management.base import region_payload


class Command(JunctionCommand):
    help = "Register a region (it must have a database in JUNCTION_REGIONS) and its policy."
    field_options = {
        "endpoint": "--endpoint",
        "min_bucket_seconds": "--min-bucket-seconds",
        "raw_retention_days": "--retention-days",
        "rollup_retention_days": "--rollup-retention-days",
        "k_threshold": "--k",
        "timezone": "--timezone",
        "country": "--country",
        "subdivision": "--subdivision",
    }

    def add_arguments(self, parser) -> None:
        parser.add_argument("code", help="region code, e.g. eu-west")
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--endpoint",
            default="",
            help="public base URL of the region's node (sent with 421 answers)",
        )
        parser.add_argument("--min-bucket-seconds", type=int, default=60)
        parser.add_argument(
            "--retention-days", type=int, default=90, help="how long raw count buckets are kept"
        )
        parser.add_argument("--rollup-retention-days", type=int, default=730)
        parser.add_argument("--k", type=int, default=5, help="publication threshold for counts")
        parser.add_argument(
            "--timezone",
            default="UTC",
            help="IANA time zone, e.g. Europe/Paris (the default of its sites)",
        )
        parser.add_argument(
            "--country",
            default="",
            help="ISO 3166-1 alpha-2 code of the public-holiday calendar, e.g. FR",
        )
        parser.add_argument(
            "--subdivision",
            default="",
            help="subdivision whose holidays also apply, e.g. NY (with --country US)",
        )

    def handle(self, *args, **options) -> None:
        region = self.run(
            services.region_add,
            code=options["code"],
            name=options["name"],
            endpoint=options["endpoint"],
            min_bucket_seconds=options["min_bucket_seconds"],
            raw_retention_days=options["retention_days"],
            rollup_retention_days=options["rollup_retention_days"],
            k_threshold=options["k"],
            timezone=options["timezone"],
            country=options["country"],
            subdivision=options["subdivision"],
        )
        self.emit(
            options, region_payload(region), f"region {region.code} ({region.name}) registered"
        )
