"""Which regions a member of staff may see, and in which role (control plane)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models

from junction.residency.base import ControlModel
from junction.residency.models import Region


class Role(models.TextChoices):
    # Ordered by reach: an operator may do everything an analyst may.
    ANALYST = "analyst", "Analyst"
    OPERATOR = "operator", "Operator"


ROLE_RANK = {Role.ANALYST: 0, Role.OPERATOR: 1}


class RegionMembership(ControlModel):
    region_path = "region__code"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="region_memberships"
    )
    region = models.ForeignKey(Region, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.ANALYST)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["region__code", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "region"], name="one_role_per_region"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} in {self.region.code}"


class ApiToken(ControlModel):
    """An integrator's credential for /api/v1/ (DESIGN.md section 9), kept only as a hash.

    It acts as its user with the user's region memberships, optionally narrowed to one region
    and to reading (accounts.tokens.token_narrowing). `key` is the token's public lookup part,
    `digest` the SHA-256 of the whole token: the token is 256 random bits, so a fast hash is
    as safe as a password hash here and costs nothing per call.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(
        max_length=100, help_text="what the token is for, e.g. the integrator's system"
    )
    key = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    region = models.ForeignKey(
        Region,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="only this region of the user's (blank: all of them)",
    )
    read_only = models.BooleanField(default=False, help_text="reads only, whatever the user's role")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    # Updated at most once per accounts.tokens.LAST_USED_PRECISION, not on every call.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["user__username", "-created_at"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.user}, {self.key})"

    def state(self, now: datetime) -> str:
        """ "revoked", "expired" or "active" at `now`."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "active"
