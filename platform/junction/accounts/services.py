"""Writes of the accounts app: granting and withdrawing a member of staff's region role,
granting one read of another region's data through a transfer rule (audited), users, and
integrators' API tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from junction.accounts.models import ApiToken, RegionMembership, Role
from junction.accounts.scoping import member_regions, region_denial
from junction.accounts.tokens import token_new
from junction.residency.errors import TransferRefused
from junction.residency.models import Region, TransferRule
from junction.residency.scoping import AnyUser
from junction.residency.services import transfer_authorise

# A token that nobody remembers must stop working by itself: every token expires.
API_TOKEN_DAYS_DEFAULT = 90
API_TOKEN_DAYS_MAX = 366


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
def user_add(
    *, username: str, password: str, email: str = "", superuser: bool = False
) -> AbstractBaseUser:
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
        raise TransferRefused(
            f"{denial}. you are not a member of any region, so nothing can reach you"
        )
    rule = (
        TransferRule.objects.filter(
            source__code=source, destination__code__in=regions, level=level, active=True
        )
        .select_related("destination")
        .order_by("destination__code")
        .first()
    )
    destination = rule.destination.code if rule else regions[0]
    try:
        return transfer_authorise(
            source=source, destination=destination, level=level, actor=user.get_username()
        )
    except TransferRefused as exc:
        raise TransferRefused(f"{denial}. {exc}") from None


@dataclass(frozen=True)
class IssuedToken:
    """A new token's row, and the token itself: shown to its owner once, never stored."""

    api_token: ApiToken
    token: str


def api_token_errors(
    *, user: User, name: str, region: str | None, expires_days: int
) -> dict[str, str]:
    """{field: why} for a token that cannot be issued so; empty when it can."""
    errors: dict[str, str] = {}
    if not name.strip():
        errors["name"] = "give the token a name saying who or what uses it"
    if not 1 <= expires_days <= API_TOKEN_DAYS_MAX:
        errors["expires_days"] = f"must be from 1 to {API_TOKEN_DAYS_MAX} days"
    if region:
        region_obj = Region.objects.filter(code=region).first()
        if region_obj is None:
            errors["region"] = f"unknown region {region!r}"
        elif not (
            user.is_superuser
            or RegionMembership.objects.filter(user=user, region=region_obj).exists()
        ):
            # A token carries its user's memberships; it can narrow them, never widen them.
            errors["region"] = (
                f"{user.get_username()} is not a member of region {region!r}, "
                "so a token of theirs cannot reach it"
            )
    if not user.is_active:
        errors["user"] = f"{user.get_username()} is inactive"
    return errors


@transaction.atomic(using="default")
def api_token_create(
    *,
    user: User,
    name: str,
    region: str | None = None,
    read_only: bool = False,
    expires_days: int = API_TOKEN_DAYS_DEFAULT,
) -> IssuedToken:
    """A token acting as `user`, narrowed to `region` (one the user holds) and to reading
    when asked, expiring after `expires_days`."""
    name = name.strip()
    errors = api_token_errors(user=user, name=name, region=region, expires_days=expires_days)
    if errors:
        raise ValidationError(errors)
    region_obj = Region.objects.get(code=region) if region else None
    key, token, digest = token_new()
    api_token = ApiToken.objects.create(
        user=user,
        name=name,
        key=key,
        digest=digest,
        region=region_obj,
        read_only=read_only,
        expires_at=timezone.now() + timedelta(days=expires_days),
    )
    return IssuedToken(api_token, token)


@transaction.atomic(using="default")
def api_token_revoke(*, api_token_id: int, user: User | None = None) -> ApiToken:
    """Revoke a token at once (the row stays, for the record); `user` limits it to their own.

    Revoking a revoked token changes nothing and says when it was revoked.
    """
    tokens = ApiToken.objects.select_for_update()
    if user is not None:
        tokens = tokens.filter(user=user)
    api_token = tokens.filter(pk=api_token_id).first()
    if api_token is None:
        raise ValidationError(
            {"id": f"no API token {api_token_id}" + (" of yours" if user is not None else "")}
        )
    if api_token.revoked_at is None:
        api_token.revoked_at = timezone.now()
        api_token.save(update_fields=["revoked_at"])
    return api_token
