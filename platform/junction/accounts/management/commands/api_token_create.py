"""manage.py api_token_create USERNAME --name NAME [--region CODE] [--read-only]
[--expires-days N] [--json]: prints the token once (DESIGN.md section 9)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from junction.accounts import services
from junction.commands import JunctionCommand

TOKEN_WARNING = (
    "Give this token to the integrator now: it is shown once and cannot be shown "
    "again (only its hash is kept)."
)


class Command(JunctionCommand):
    help = "Issue an API token acting as a user, optionally narrowed to a region and to reading."
    field_options = {"expires_days": "--expires-days", "region": "--region", "name": "--name"}

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="who or what uses the token")
        parser.add_argument("--region", help="only this region of the user's")
        parser.add_argument(
            "--read-only", action="store_true", help="reads only, whatever the user's role"
        )
        parser.add_argument(
            "--expires-days",
            type=int,
            default=services.API_TOKEN_DAYS_DEFAULT,
            help=f"days until it expires (default {services.API_TOKEN_DAYS_DEFAULT})",
        )

    def handle(self, *args, **options) -> None:
        username = options["username"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"username: unknown user {username!r}")
        issued = self.run(
            services.api_token_create,
            user=user,
            name=options["name"],
            region=options["region"],
            read_only=options["read_only"],
            expires_days=options["expires_days"],
        )
        row = issued.api_token
        self.emit(
            options,
            {
                "id": row.pk,
                "token": issued.token,
                "expires": row.expires_at.isoformat(),
                "name": row.name,
                "username": username,
                "region": options["region"],
                "read_only": row.read_only,
            },
            f"token {row.pk} ({row.name}) for {username}, expires "
            f"{row.expires_at.isoformat()}:\n{issued.token}\n{TOKEN_WARNING}",
        )
