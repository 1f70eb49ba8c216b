"""Admin for region memberships: the deployment administrator's alone."""

from __future__ import annotations

from django.contrib import admin

from junction.accounts.models import RegionMembership
from junction.residency.admin import superuser_only


@admin.register(RegionMembership)
class RegionMembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "region", "role", "created_at"]
    list_filter = ["region", "role"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]

    # Granting regions is the deployment administrator's job, not a region operator's.
    has_module_permission = superuser_only
    has_view_permission = has_add_permission = superuser_only
    has_change_permission = has_delete_permission = superuser_only
