"""Which regions a member of staff may see, and in which role (control plane)."""

from __future__ import annotations

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

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="region_memberships")
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
