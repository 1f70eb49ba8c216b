"""The one choke point for who may see which region's records.

`restrict(queryset, user)` narrows a control-plane queryset to the regions the user is a member
of; `region_denial(user, region)` explains why one region is out of reach. Views, the API and
the admin all use these (through `permissions.RegionMember` and the admin mixin) instead of
filtering on their own, so no view can forget the rule.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User
from django.db import models

from junction.accounts.models import ROLE_RANK, RegionMembership, Role
from junction.accounts.tokens import token_narrowing, token_narrows
from junction.analytics.models import AlertSubscription
from junction.residency.errors import TransferRefused
from junction.residency.models import Region, TransferRule
from junction.residency.services import transfer_authorise
from junction.sites.models import Counter, Device, Site

# How each scoped model reaches its region's code.
REGION_LOOKUPS: dict[type[models.Model], str] = {
    Region: "code",
    Site: "region__code",
    Counter: "site__region__code",
    Device: "site__region__code",
    RegionMembership: "region__code",
    AlertSubscription: "region__code",
}


def _sees_everything(user: User | AnonymousUser) -> bool:
    # Superusers administer the whole deployment; everyone else sees only their regions.
    # (Issue 9: not through an API token narrowed to a region or to reading.)
    return bool(user.is_active and user.is_superuser) and not token_narrows(user)


def member_regions(user: User | AnonymousUser, role: str = Role.ANALYST) -> dict[str, str]:
    """{region code: role} for the regions where `user` holds at least `role`.

    Cached on the user object so one request costs one query however often it asks.
    """
    if not user.is_authenticated or not user.is_active:
        return {}
    cache = getattr(user, "_junction_regions", None)
    if cache is None:
        # Issue 9: a request on an API token gets the memberships as its token narrows them.
        cache = token_narrowing(user, dict(
            RegionMembership.objects.filter(user=user).values_list("region__code", "role")
        ))
        user._junction_regions = cache
    floor = ROLE_RANK[Role(role)]
    return {code: r for code, r in cache.items() if ROLE_RANK[Role(r)] >= floor}


def restrict(queryset: models.QuerySet, user: User | AnonymousUser,
             role: str = Role.ANALYST) -> models.QuerySet:
    """Only the rows of regions where `user` holds at least `role` (everything for superusers)."""
    try:
        lookup = REGION_LOOKUPS[queryset.model]
    except KeyError:
        raise TypeError(f"{queryset.model._meta.label} has no region scope") from None
    if _sees_everything(user):
        return queryset
    return queryset.filter(**{f"{lookup}__in": list(member_regions(user, role))})


def region_denial(user: User | AnonymousUser, region: str,
                  role: str = Role.ANALYST) -> str | None:
    """None when `user` may see `region` in `role`; otherwise the reason, for a 403."""
    if _sees_everything(user) or region in member_regions(user, role):
        return None
    held = member_regions(user)
    if region in held:
        return f"your role in region {region!r} is {held[region]!r}; this needs {role!r}"
    if not held:
        return f"you are not a member of any region, so region {region!r} is out of reach"
    return (f"you are a member of region(s) {', '.join(sorted(held))}, not {region!r}; data "
            "crosses regions only through a transfer rule")


def region_of(obj: models.Model) -> str:
    """The region code a scoped record belongs to."""
    value: object = obj
    for part in REGION_LOOKUPS[type(obj)].split("__"):
        value = getattr(value, part)
    return str(value)


def transfer_for(user: User | AnonymousUser, *, source: str, level: str) -> TransferRule:
    """Let `source` region data reach `user` at `level` through a transfer rule to one of the
    user's regions, or raise TransferRefused. Either way transfer_authorise writes the decision
    to the source region's audit log (MisdirectedRegion if this node cannot write it there)."""
    regions = sorted(member_regions(user))
    if not regions:
        raise TransferRefused("you are not a member of any region, so nothing can reach you")
    rule = (TransferRule.objects.filter(source__code=source, destination__code__in=regions,
                                        level=level, active=True)
            .select_related("destination").order_by("destination__code").first())
    destination = rule.destination.code if rule else regions[0]
    return transfer_authorise(source=source, destination=destination, level=level,
                              actor=user.get_username())
