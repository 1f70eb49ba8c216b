"""Writes of the accounts app: granting and withdrawing a member of staff's region role."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from junction.accounts.models import RegionMembership, Role
from junction.residency.models import Region


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
        user=user, region=region_obj, defaults={"role": role}
    )
    return membership


@transaction.atomic(using="default")
def membership_withdraw(*, user: AbstractBaseUser, region: str) -> int:
    deleted, _ = RegionMembership.objects.filter(user=user, region__code=region).delete()
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
