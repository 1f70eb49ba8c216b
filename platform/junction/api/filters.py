"""Query filters of the API's lists."""

from __future__ import annotations

import django_filters

from junction.analytics.models import Anomaly, AnomalyKind
from junction.sites.models import Device, Site


class SiteFilter(django_filters.FilterSet):
    region = django_filters.CharFilter(field_name="region__code")

    class Meta:
        model = Site
        fields = ["region"]


class DeviceFilter(django_filters.FilterSet):
    site = django_filters.CharFilter(field_name="site__slug")
    region = django_filters.CharFilter(field_name="site__region__code")
    revoked = django_filters.BooleanFilter(
        field_name="revoked_at", lookup_expr="isnull", exclude=True
    )

    class Meta:
        model = Device
        fields = ["site", "region", "revoked"]


class AnomalyFilter(django_filters.FilterSet):
    """Anomalies of one region (the view's queryset is already that region's database)."""

    state = django_filters.ChoiceFilter(choices=Anomaly.State.choices)
    kind = django_filters.ChoiceFilter(choices=AnomalyKind.choices)
    site = django_filters.CharFilter(method="filter_site", help_text="site slug")

    class Meta:
        model = Anomaly
        fields = ["state", "kind", "site"]

    def filter_site(self, queryset, name: str, value: str):
        # Sites live in the control plane and anomalies in the region's database: resolve the
        # slug first, no join can cross the two. An unknown slug matches nothing.
        site_ids = list(Site.objects.filter(slug=value).values_list("pk", flat=True))
        return queryset.filter(site_id__in=site_ids)
