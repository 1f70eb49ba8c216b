"""`releases --config site.yaml [--json]`: the release slots on this device and which is live
(DESIGN.md section 10)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edge_worker.config import ConfigError, load_config


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "releases", help="list the release slots and the live one", description=__doc__
    )
    parser.add_argument("--config", required=True, help="the site's YAML file")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.set_defaults(handler=releases)


def releases(args: argparse.Namespace) -> int:
    from edge_worker.fleet.slots import Slots

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    if config.fleet is None:
        print(
            f"{args.config}: no `fleet` section (slots, trusted_root): this device takes no "
            "fleet releases",
            file=sys.stderr,
        )
        return 1
    slots = Slots(config.fleet.slots)
    live, previous = slots.live(), slots.previous()
    listing: list[dict[str, Any]] = [
        {
            "release": name,
            "live": name == live,
            "previous": name == previous,
            "files": sorted(p.name for p in slots.path_of(name).iterdir()),
        }
        for name in slots.releases()
    ]
    if args.json:
        print(json.dumps({"live": live, "previous": previous, "slots": listing}))
    else:
        for row in listing:
            mark = "live" if row["live"] else "previous" if row["previous"] else ""
            print(f"{row['release']:<30} {mark:<9} {', '.join(row['files'])}")
    return 0
