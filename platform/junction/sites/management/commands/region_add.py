"""manage.py region_add CODE --name NAME [...]: register a region and its policy."""

from __future__ import annotations

from junction.sites import services
from junction.sites.management.base import JunctionCommand, region_payload


class Command(JunctionCommand):
    help = "Register a region (it must have a database in JUNCTION_REGIONS) and its policy."

    def add_arguments(self, parser) -> None:
        parser.add_argument("code", help="region code, e.g. eu-west")
        parser.add_argument("--name", required=True)
        parser.add_argument("--endpoint", default="",
                            help="public base URL of the region's node (sent with 421 answers)")
        parser.add_argument("--min-bucket-seconds", type=int, default=60)
        parser.add_argument("--retention-days", type=int, default=90,
                            help="how long raw count buckets are kept")
        parser.add_argument("--rollup-retention-days", type=int, default=730)
        parser.add_argument("--k", type=int, default=5, help="publication threshold for counts")

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
        )
        self.emit(options, region_payload(region),
                  f"region {region.code} ({region.name}) registered")
