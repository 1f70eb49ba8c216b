"""manage.py api_token_revoke ID [--json]: the token stops working at once."""

from __future__ import annotations

from junction.accounts import services
from junction.commands import JunctionCommand


class Command(JunctionCommand):
    help = "Revoke an API token (its row stays, for the record)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("id", type=int, help="the token's id (api_token_create printed it)")

    def handle(self, *args, **options) -> None:
        row = self.run(services.api_token_revoke, api_token_id=options["id"])
        revoked = row.revoked_at.isoformat() if row.revoked_at else None
        self.emit(
            options,
            {"id": row.pk, "name": row.name, "revoked": revoked},
            f"token {row.pk} ({row.name}) revoked {revoked}",
        )
