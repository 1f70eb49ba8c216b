"""Writes of the accounts app: granting and withdrawing a member of staff's region role, and
granting one read of another region's data through a transfer rule (audited)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from junction.accounts.models import RegionMembership, Role
from junction.accounts.scoping import member_regions, region_denial
from junction.residency.errors import TransferRefused
from junction.residency.models import Region, TransferRule
from junction.residency.scoping import AnyUser
from junction.residency.services import transfer_authorise


@transaction.atomic(using="default")
def membership_grant(*, user: AbstractBaseUser, region: str, role: str) -> RegionMembership:
    """Give `user` `role` in `region`, replacing any role they had there."""
    if role not in Role.values:
        raise ValidationError({"role": f"unknown role {role!r} (use {', '.join(Role.values)})"})
    try:
        region_obj = Region.objects.get(code=region)
    except Region.DoesNotExist as exc:
        raise ValidationError({"region": f"unknown region {region!r}"}) from exc
    membership, _ = RegionMembership.objects.update_or_create(
        user_id=user.pk, region=region_obj, defaults={"role": role}
    )
    return membership


@transaction.atomic(using="default")
def membership_withdraw(*, user: AbstractBaseUser, region: str) -> int:
    deleted, _ = RegionMembership.objects.filter(user_id=user.pk, region__code=region).delete()
    return deleted


@transaction.atomic(using="default")
def user_add(*, username: str, password: str, email: str = "",
             superuser: bool = False) -> AbstractBaseUser:
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": f"user {username!r} already exists"})
    if superuser:
        return User.objects.create_superuser(username=username, email=email, password=password)
    return User.objects.create_user(username=username, email=email, password=password)


@transaction.atomic(using="default")
def user_set_password(*, username: str, password: str) -> AbstractBaseUser:
    user = get_user_model().objects.get(username=username)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def transfer_grant(*, user: AnyUser, source: str, level: str) -> TransferRule | None:
    """Let `user` read `source` region data at `level`: None for the region's own staff (nothing
    crosses), else the transfer rule that lets the data reach one of the user's regions, whose
    minimum count the caller applies. TransferRefused says why not.

    Every grant and refusal across regions is written to the source region's audit log by
    transfer_authorise (MisdirectedRegion if this node cannot write it there).
    """
    denial = region_denial(user, source)
    if denial is None:
        return None
    regions = sorted(member_regions(user))
    if not regions:
        raise TransferRefused(f"{denial}. you are not a member of any region, so nothing can "
                              "reach you")
    rule = (TransferRule.objects.filter(source__code=source, destination__code__in=regions,
                                        level=level, active=True)
            .select_related("destination").order_by("destination__code").first())
    destination = rule.destination.code if rule else regions[0]
    try:
        return transfer_authorise(source=source, destination=destination, level=level,
                                  actor=user.get_username())
    except TransferRefused as exc:
        raise TransferRefused(f"{denial}. {exc}") from None
