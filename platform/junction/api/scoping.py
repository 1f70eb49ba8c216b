"""The base of every scoped API view: lists narrowed and records fetched by the region scoping
rule (junction.residency.scoping), the same accessor the dashboard uses."""

from __future__ import annotations

from typing import Any

from django.db import models
from rest_framework import generics
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

from junction.residency.models import Region
from junction.residency.scoping import Action, as_scoped, scope_rule, scoped_get


class HoldsRegionRole(BasePermission):
    """Signed in, and allowed `view.scope_action` in at least one region (403 with the reason
    otherwise). Which region a record is of is judged when it is fetched (`scoped_get`)."""

    message = "you hold no region role that allows this; ask an administrator"

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        regions = scope_rule().regions(user, getattr(view, "scope_action", Action.READ))
        return regions is None or len(regions) > 0


class ScopedView(generics.GenericAPIView):
    """Lists show only the records of the user's regions; one record of another region is
    refused with the reason (403), not hidden as a 404, so a member of staff learns why and
    whom to ask. Region-plane views read the region from the path through `region()`."""

    permission_classes = [HoldsRegionRole]
    scope_action: Action = Action.READ

    def get_queryset(self) -> models.QuerySet:
        queryset = super().get_queryset()
        if getattr(self, "action", None) == "list":
            return as_scoped(queryset).restrict(self.request.user, self.scope_action)
        return queryset

    def get_object(self) -> Any:
        lookup = self.lookup_url_kwarg or self.lookup_field
        return scoped_get(
            self.filter_queryset(self.get_queryset()),
            self.request.user,
            self.scope_action,
            **{self.lookup_field: self.kwargs[lookup]},
        )

    def region(self) -> Region:
        """The region named in the path, judged before any of its data is read."""
        return scoped_get(
            Region.objects.all(), self.request.user, self.scope_action, code=self.kwargs["code"]
        )
