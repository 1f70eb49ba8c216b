"""The shape every per-site read shares: find the site (scoped by `RegionScopedMixin`), then
validate the query string against the site with the view's query serializer."""

from __future__ import annotations

from typing import Any

from rest_framework import generics, serializers
from rest_framework.request import Request

from junction.accounts.permissions import RegionScopedMixin
from junction.sites.models import Site


# The mixin narrows `permission_classes` to a list; DRF's stubs declare a sequence.
class SiteQueryView(RegionScopedMixin, generics.GenericAPIView):  # type: ignore[misc]
    queryset = Site.objects.select_related("region").prefetch_related("counters")
    lookup_field = "slug"
    filter_backends: list = []
    query_serializer_class: type[serializers.Serializer]

    def site_and_query(self, request: Request) -> tuple[Site, dict[str, Any]]:
        site = self.get_object()  # the region check (and, for transfers, its audit) runs here
        query = self.query_serializer_class(data=request.query_params, context={"site": site})
        query.is_valid(raise_exception=True)
        return site, query.validated_data
