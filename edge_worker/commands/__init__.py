"""Subcommands of `python -m edge_worker`; each module exposes `register(subparsers)`."""
