"""Command line of the edge worker: `python -m edge_worker <command> ...`.

Each module in `edge_worker.commands` adds one subcommand through `register(subparsers)`, so
commands are added without touching this file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from edge_worker import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m edge_worker", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Each subcommand sets `handler` with parser.set_defaults(handler=...); it returns an exit code.
    return int(args.handler(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
