"""DRF permission that applies the region scoping rule (see junction.accounts.scoping)."""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from junction.accounts.models import Role
from junction.accounts.scoping import (
    member_regions,
    region_denial,
    region_of,
    restrict,
    transfer_for,
)
from junction.residency.errors import TransferRefused


class RegionMember(BasePermission):
    """Staff read only their regions' records; `view.required_role` raises the floor.

    Lists are narrowed by `restrict()` (views get it through `RegionScopedMixin`); a single
    record of another region is refused here with 403 and the reason, not hidden as a 404,
    so a member of staff learns why and whom to ask.
    """

    message = "you are not a member of this record's region"

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if user.is_superuser:
            return True
        if not member_regions(user, self._role(view)):
            self.message = "you hold no region role that allows this; ask an administrator"
            return False
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        reason = region_denial(request.user, region_of(obj), self._role(view))
        if reason:
            self.message = reason
            return False
        return True

    @staticmethod
    def _role(view) -> str:
        return getattr(view, "required_role", Role.ANALYST)


class RegionMemberOrTransfer(RegionMember):
    """Members of the record's region, or staff of a region that an active transfer rule at
    `view.transfer_level` lets the data reach. The rule used (None for members) is left on
    `request.transfer_rule` so the view applies its minimum count; every cross-region grant
    or refusal is audited by `transfer_for`."""

    def has_object_permission(self, request, view, obj) -> bool:
        region = region_of(obj)
        request.transfer_rule = None
        if region_denial(request.user, region, self._role(view)) is None:
            return True
        try:
            request.transfer_rule = transfer_for(request.user, source=region,
                                                 level=view.transfer_level)
        except TransferRefused as exc:
            self.message = f"{region_denial(request.user, region)}. {exc}"
            return False
        return True


class RegionScopedMixin:
    """For API views: lists show only the user's regions; one record of another region is
    fetched and then refused by `RegionMember` with the reason (403)."""

    permission_classes = [RegionMember]
    required_role: str = Role.ANALYST

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "action", None) == "list":
            return restrict(queryset, self.request.user, self.required_role)
        return queryset
