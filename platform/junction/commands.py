"""The shape every operator command shares: `--json` output and one-line errors.

A command calls a service (the single write path) inside `self.run()`; validation errors come
back as one `CommandError` line and a non-zero exit, and the service's transaction means
nothing is half-written. Project-wide (beside settings), as every app's commands use it.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError

T = TypeVar("T")


def one_line(error: ValidationError, names: dict[str, str] | None = None) -> str:
    """The errors on one line, each after its field's name (or the option in `names` that
    set that field, so an operator sees the option to correct)."""
    names = names or {}
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{names.get(field, field)}: {' '.join(messages)}"
            if field != "__all__"
            else " ".join(messages)
            for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)


def cli_actor() -> str:
    """Who ran the command, as the audit log names them."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "cli"


class JunctionCommand(BaseCommand):
    # Model field -> the option that sets it, for error messages.
    field_options: dict[str, str] = {}

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("--json", action="store_true", help="print the result as JSON")
        return parser

    def run(self, service: Callable[..., T], **kwargs: Any) -> T:
        try:
            return service(**kwargs)
        except ValidationError as exc:
            raise CommandError(one_line(exc, self.field_options)) from exc
        except IntegrityError as exc:
            # A concurrent command won the race for the same unique name.
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise CommandError(f"conflicting record: {first_line}") from exc

    def emit(self, options: dict[str, Any], payload: dict[str, Any], line: str) -> None:
        if options["json"]:
            self.stdout.write(json.dumps(payload, indent=2, sort_keys=True, default=str))
        else:
            self.stdout.write(line)
