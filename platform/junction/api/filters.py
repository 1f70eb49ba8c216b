"""Query filters of the API's lists."""

from __future__ import annotations

import django_filters

from junction.sites.models import Device, Site


class SiteFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="region__code")

    class Meta:
        model = Site
        fields = ["region"]


class DeviceFilter(django_filters.FilterSet):
    site = django_filters.CharFilter(field_name="site__slug")
    region = django_filters.CharFilter(field_name="site__region__code")
    revoked = django_filters.BooleanFilter(field_name="revoked_at", lookup_expr="isnull",
                                           exclude=True)

    class Meta:
        model = Device
        fields = ["site", "region", "revoked"]
