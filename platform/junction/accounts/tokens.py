"""Integrator API tokens (DESIGN.md section 9): `Authorization: Bearer <token>` on /api/v1/.

Own code rather than django-rest-knox or djangorestframework-api-key: knox's token is a login
session (a row per password login through its views, its expiry renewed by use, expired and
revoked rows deleted, so the record of what a token could reach goes with them) with no name,
region or read-only to hang the narrowing on; api-key authorises a client that is no user (a
permission class, request.user stays anonymous), while every region rule here is a user's
membership. What they would give us is one stdlib hash and a constant-time compare.

Three rules live here: how a token is checked (`BearerAuthentication`), what it may reach
(`token_narrowing`, hooked into `accounts.scoping.member_regions`), and that every use is
audited in the region it reads (`TokenUseAuditMiddleware`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from contextlib import ExitStack
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed, Throttled
from rest_framework.throttling import BaseThrottle

from junction.accounts.models import ApiToken, Role
from junction.accounts.throttling import FailureThrottle
from junction.residency.middleware import RETRY_AFTER_SECONDS
from junction.residency.models import Region
from junction.residency.planes import region_alias, served_regions
from junction.residency.scoping import AnyUser

log = logging.getLogger(__name__)

# "jct_" + an 8-character public key (the row's lookup) + "_" + 43 characters of secret.
TOKEN_PREFIX = "jct_"
KEY_LENGTH = 8
# last_used_at is a "when did this integrator last call" for people, not a log (the audit is
# the log): writing it at most once a minute keeps a write off nearly every call.
LAST_USED_PRECISION = timedelta(minutes=1)
# What the user is kept on the user object as, for the scoping rule to narrow by.
USER_TOKEN_ATTRIBUTE = "_junction_api_token"


def token_new() -> tuple[str, str, str]:
    """(key, token, digest) of a fresh token; only key and digest are ever stored."""
    key = secrets.token_hex(KEY_LENGTH // 2)
    token = f"{TOKEN_PREFIX}{key}_{secrets.token_urlsafe(32)}"
    return key, token, token_digest(token)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_find(token: str) -> ApiToken:
    """The live token row for `token`, or AuthenticationFailed saying why (a 401)."""
    key = token[len(TOKEN_PREFIX) : len(TOKEN_PREFIX) + KEY_LENGTH]
    row = None
    if token.startswith(TOKEN_PREFIX) and key.isalnum():
        row = ApiToken.objects.select_related("user", "region").filter(key=key).first()
    # Compared in constant time, and against a digest even when no row matched, so the
    # answer's timing tells nothing about which keys exist.
    expected = row.digest if row is not None else "0" * 64
    if not hmac.compare_digest(expected, token_digest(token)) or row is None:
        raise AuthenticationFailed("invalid token")
    now = timezone.now()
    if row.revoked_at is not None:
        raise AuthenticationFailed(f"token {row.key} was revoked {row.revoked_at.isoformat()}")
    if row.expires_at <= now:
        raise AuthenticationFailed(f"token {row.key} expired {row.expires_at.isoformat()}")
    if not row.user.is_active:
        raise AuthenticationFailed(f"the user of token {row.key} is inactive")
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
        ApiToken.objects.filter(pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row


class BearerAuthentication(BaseAuthentication):
    """`Authorization: Bearer <token>`; first in DEFAULT_AUTHENTICATION_CLASSES, so a call
    without credentials is answered 401 with this challenge (DRF takes the first class's)."""

    def authenticate(self, request) -> tuple[User, ApiToken] | None:
        words = get_authorization_header(request).split()
        if not words or words[0].lower() != b"bearer":
            return None  # Basic and session callers are the other classes' business
        request._request.junction_token_offered = True
        # A refused token stops the call before DRF's throttles run, so failures are limited
        # here, per address: 429 with Retry-After, before the token is even looked up.
        limit = FailureThrottle("api-bad-token", settings.JUNCTION_API_BAD_TOKENS_ADDRESS)
        address = BaseThrottle().get_ident(request)
        seconds = limit.refused_for(address)
        if seconds is not None:
            raise Throttled(seconds, "too many refused tokens from this address lately")
        try:
            if len(words) != 2:
                raise AuthenticationFailed("send the header as 'Authorization: Bearer <token>'")
            try:
                token = token_find(words[1].decode("ascii"))
            except UnicodeDecodeError:
                raise AuthenticationFailed("invalid token") from None
        except AuthenticationFailed:
            limit.failed(address)
            raise
        user = token.user
        setattr(user, USER_TOKEN_ATTRIBUTE, token)
        return user, token

    def authenticate_header(self, request) -> str:
        # RFC 6750: say "invalid_token" when one was offered, nothing more when none was.
        if getattr(request._request, "junction_token_offered", False):
            return 'Bearer realm="api", error="invalid_token"'
        return 'Bearer realm="api"'


def token_of(user: AnyUser) -> ApiToken | None:
    return getattr(user, USER_TOKEN_ATTRIBUTE, None)


def token_narrows(user: AnyUser) -> bool:
    """True when the request runs on a token narrowed to one region or to reading, which
    takes even a superuser's see-everything away."""
    token = token_of(user)
    return token is not None and (token.region_id is not None or token.read_only)


def token_narrowing(user: AnyUser, held: dict[str, str]) -> dict[str, str]:
    """{region: role} a request may use: the user's memberships `held`, narrowed by the
    request's token to its one region and, when read-only, to the analyst role (which reads
    everything and writes nothing). Without a token, `held` unchanged.

    A narrowed superuser token holds its region (or every region) as an operator would.
    """
    token = token_of(user)
    if token is None or not token_narrows(user):
        return held
    if getattr(user, "is_superuser", False):
        held = dict.fromkeys(Region.objects.values_list("code", flat=True), Role.OPERATOR.value)
    if token.region is not None:
        held = {code: role for code, role in held.items() if code == token.region.code}
    if token.read_only:
        held = dict.fromkeys(held, Role.ANALYST.value)
    return held


class TokenUseAuditMiddleware:
    """Every call made with a token is audited in each region whose database it read.

    Which regions a call read is taken from the region connections themselves (a query
    wrapper for the call's duration), so no view has to declare it. A call that read no
    region's database (the site catalogue, a refusal) is audited in every region the token
    reaches. Calls repeat at will, so the rows are `audit_repeated`'s: one per token, region
    and hour, with the first and last call and how many. If the audit cannot be written,
    the data is not released either: 503, as for an unreachable region.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.headers.get("Authorization", "").lower().startswith("bearer"):
            return self.get_response(request)
        read: set[str] = set()
        with ExitStack() as stack:
            for code in served_regions():
                stack.enter_context(
                    connections[region_alias(code)].execute_wrapper(_reads_of(code, read))
                )
            response = self.get_response(request)
        token = getattr(request, "auth", None)
        if not isinstance(token, ApiToken):
            return response
        try:
            token_use_audit(token=token, user=request.user, regions=read, path=request.path)
        except DatabaseError:
            log.exception("token %s: its use on %s could not be audited", token.key, request.path)
            if response.status_code < 400:
                answer = JsonResponse(
                    {
                        "error": "audit_unavailable",
                        "detail": (
                            "this call could not be recorded in its region's audit log, so its "
                            "answer is withheld; retry"
                        ),
                    },
                    status=503,
                )
                answer["Retry-After"] = str(RETRY_AFTER_SECONDS)
                return answer
        return response


def _reads_of(code: str, read: set[str]):
    def wrapper(execute, sql, params, many, context) -> Any:
        read.add(code)
        return execute(sql, params, many, context)

    return wrapper


def token_use_audit(
    *, token: ApiToken, user: User | AnonymousUser, regions: set[str], path: str
) -> None:
    # Imported here: residency.services imports models of apps that import this module.
    from junction.accounts.scoping import member_regions
    from junction.residency.services import audit_repeated

    served = set(served_regions())
    if not regions:
        regions = (
            served if (user.is_superuser and not token_narrows(user)) else set(member_regions(user))
        )
    # The path stays out of the detail: it is part of the key that merges repeats, and one
    # row per URL would let a client that varies its query string flood the log again.
    for code in sorted(regions & served):
        audit_repeated(
            region=code,
            actor=user.get_username(),
            action="token_use",
            detail={"token": token.key, "name": token.name},
        )
    log.debug("token %s used on %s", token.key, path)
