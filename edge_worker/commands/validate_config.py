"""`validate-config --config site.yaml`: check a site file the way `run` would, and say so."""

from __future__ import annotations

import argparse
import sys

from edge_worker.config import ConfigError, load_config, verify_model_digest


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate-config",
        help="check a site file (keys, counters, endpoints, secret, model digest)",
        description=__doc__,
    )
    parser.add_argument("--config", required=True, help="the site's YAML file")
    parser.set_defaults(handler=validate_config)


def validate_config(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
        config.read_secret()
        verify_model_digest(config.model)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    print("ok")
    return 0
