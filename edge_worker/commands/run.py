"""`run --config site.yaml`: run the edge worker until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading

from edge_worker.config import ConfigError
from edge_worker.worker import EdgeWorker

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="count traffic on the site's cameras and send the buckets", description=__doc__
    )
    parser.add_argument("--config", required=True, help="the site's YAML file")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING"])
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()

    def request_stop(signum: int, _frame) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    # Handlers first: a SIGTERM during start-up must still lead to an orderly stop().
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    worker = EdgeWorker(args.config)
    try:
        worker.start()
    except (ConfigError, OSError) as exc:
        # A bad site file, model, secret, spool folder or a health port in use: all are fixed
        # by an operator, so say which and exit instead of retrying.
        print(f"cannot start: {exc}", file=sys.stderr)
        return 2
    try:
        worker.supervise(stop)
    finally:
        worker.stop()
    return 0
