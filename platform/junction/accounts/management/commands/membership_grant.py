"""manage.py membership_grant USERNAME --region CODE --role analyst|operator [--withdraw]."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

from junction.accounts import services
from junction.accounts.models import Role
from junction.commands import JunctionCommand


class Command(JunctionCommand):
    help = "Give a member of staff a role in a region (or --withdraw it)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username")
        parser.add_argument("--region", required=True, help="region code")
        parser.add_argument("--role", choices=Role.values, default=Role.ANALYST)
        parser.add_argument(
            "--withdraw", action="store_true", help="remove the user's role in this region"
        )

    def handle(self, *args, **options) -> None:
        username, region = options["username"], options["region"]
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"username: unknown user {username!r}")
        if options["withdraw"]:
            removed = self.run(services.membership_withdraw, user=user, region=region)
            self.emit(
                options,
                {"username": username, "region": region, "role": None, "withdrawn": bool(removed)},
                f"{username} has no role in {region} now"
                if removed
                else f"{username} had no role in {region}",
            )
            return
        membership = self.run(
            services.membership_grant, user=user, region=region, role=options["role"]
        )
        self.emit(
            options,
            {"username": username, "region": region, "role": membership.role},
            f"{username} is {membership.role} in {region}",
        )
