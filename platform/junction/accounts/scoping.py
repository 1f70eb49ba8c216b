"""The region scoping rule: which regions a member of staff may read or write, and why not.

Registered with junction.residency.scoping at start-up (AccountsConfig.ready), which applies
it everywhere through `Model.objects.restrict(user, action)` and `scoped_get`; no view, page or
admin judges a region on its own.
"""

from __future__ import annotations

from collections.abc import Collection

from junction.accounts.models import ROLE_RANK, RegionMembership, Role
from junction.accounts.tokens import token_narrowing, token_narrows
from junction.residency.scoping import Action, AnyUser

# The role an action needs in a region: analysts read, operators also write. Plain strings,
# as they are quoted in the reasons given.
ROLE_FOR: dict[Action, str] = {Action.READ: Role.ANALYST.value, Action.WRITE: Role.OPERATOR.value}


def _sees_everything(user: AnyUser) -> bool:
    # Superusers administer the whole deployment; everyone else sees only their regions.
    # (Issue 9: not through an API token narrowed to a region or to reading.)
    return bool(user.is_active and getattr(user, "is_superuser", False)) and not token_narrows(user)


def member_regions(user: AnyUser, role: str = Role.ANALYST.value) -> dict[str, str]:
    """{region code: role} for the regions where `user` holds at least `role`.

    The one place that says which regions a user may read (role analyst) or write (operator);
    anything that narrows a user's reach (an API token's region, read-only) belongs here.
    Cached on the user object, as Django caches permissions, so a request costs one query
    however often it asks.
    """
    if not user.is_authenticated or not user.is_active:
        return {}
    cache: dict[str, str] | None = getattr(user, "_junction_regions", None)
    if cache is None:
        # A request on an API token gets the memberships as its token narrows them.
        cache = token_narrowing(
            user,
            dict(RegionMembership.objects.filter(user=user.pk).values_list("region__code", "role")),
        )
        setattr(user, "_junction_regions", cache)  # noqa: B010 (not a declared attribute)
    floor = ROLE_RANK[Role(role)]
    return {code: r for code, r in cache.items() if ROLE_RANK[Role(r)] >= floor}


def region_denial(user: AnyUser, region: str, role: str = Role.ANALYST.value) -> str | None:
    """None when `user` may see `region` in `role`; otherwise the reason, for a 403."""
    if _sees_everything(user) or region in member_regions(user, role):
        return None
    held = member_regions(user)
    if region in held:
        return f"your role in region {region!r} is {held[region]!r}; this needs {role!r}"
    if not held:
        return f"you are not a member of any region, so region {region!r} is out of reach"
    return (
        f"you are a member of region(s) {', '.join(sorted(held))}, not {region!r}; data "
        "crosses regions only through a transfer rule"
    )


class MembershipRule:
    """The accounts rule in the shape junction.residency.scoping asks for."""

    def regions(self, user: AnyUser, action: Action) -> Collection[str] | None:
        if _sees_everything(user):
            return None
        return member_regions(user, ROLE_FOR[action]).keys()

    def denial(self, user: AnyUser, region: str, action: Action) -> str | None:
        return region_denial(user, region, ROLE_FOR[action])
