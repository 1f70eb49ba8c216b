"""`dead-letters --config site.yaml`: list batches the platform refused (422), with its reason;
`--show ID` prints one batch's body, `--discard ID` drops it for good (counted in the spool).

Refused batches are never retried and never deleted on their own: fixing the cause (a counter
missing on the platform, a bucket shorter than the region allows) is an operator's job.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime

from edge_worker.config import ConfigError, load_config
from edge_worker.spool import Spool


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dead-letters",
        help="list, show or discard batches the platform refused",
        description=__doc__,
    )
    parser.add_argument("--config", required=True, help="the site's YAML file")
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--show", metavar="BATCH_ID", help="print the body of one batch")
    action.add_argument("--discard", metavar="BATCH_ID", help="drop one batch for good")
    parser.set_defaults(handler=dead_letters)


def dead_letters(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    spool = Spool(config.spool.path, max_bytes=config.spool.max_bytes)
    try:
        if args.show:
            body = spool.dead_letter_body(args.show)
            if body is None:
                print(f"no dead letter {args.show}", file=sys.stderr)
                return 1
            print(json.dumps(json.loads(body), indent=2))
        elif args.discard:
            if not spool.discard_dead_letter(args.discard):
                print(f"no dead letter {args.discard}", file=sys.stderr)
                return 1
            print(f"discarded {args.discard}")
        else:
            for letter in spool.dead_letters():
                at = datetime.fromtimestamp(letter["at"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                print(f"{letter['batch_id']}  {at}  HTTP {letter['status']}  {letter['reason']}")
    finally:
        spool.close()
    return 0
