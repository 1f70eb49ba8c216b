"""The shape every per-site read shares: find the site (scoped by `ScopedView`), then
validate the query string against the site with the view's query serializer."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers
from rest_framework.request import Request

from junction.api.scoping import ScopedView
from junction.sites.models import Site


class SiteQueryView(ScopedView):
    queryset = Site.objects.select_related("region").prefetch_related("counters")
    lookup_field = "slug"
    filter_backends: list = []
    query_serializer_class: type[serializers.Serializer]

    def site_and_query(self, request: Request) -> tuple[Site, dict[str, Any]]:
        site = self.get_object()  # 404 or 403 with the reason: the region check runs here
        return site, self.query(request, site)

    def query(self, request: Request, site: Site) -> dict[str, Any]:
        query = self.query_serializer_class(data=request.query_params, context={"site": site})
        query.is_valid(raise_exception=True)
        return query.validated_data
