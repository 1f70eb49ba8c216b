"""Admin for region memberships, and the mixin that scopes other admins by region role."""

from __future__ import annotations

from django.contrib import admin

from junction.accounts.models import RegionMembership
from junction.residency.scoping import Action, as_scoped, is_scoped


def superuser_only(self, request, obj=None) -> bool:
    """A permission hook for admins that only the deployment's administrators may use."""
    return request.user.is_active and request.user.is_superuser


class RegionScopedAdmin(admin.ModelAdmin):
    """Staff who are not superusers manage only the regions where they are operators.

    The rule is `restrict(user, Action.WRITE)`, the same one the API and dashboard use.
    """

    def get_queryset(self, request):
        return as_scoped(super().get_queryset(request)).restrict(request.user, Action.WRITE)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        queryset = getattr(field, "queryset", None)
        # A model without a region (e.g. the user of a membership) is not scoped.
        if field is not None and queryset is not None and is_scoped(queryset.model):
            field.queryset = as_scoped(queryset).restrict(request.user, Action.WRITE)
        return field


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
