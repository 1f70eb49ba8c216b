"""Admin for regions (with their policy) and transfer rules: control-plane records only; and
the base that scopes every region-held record's admin by the user's region role.

Region-plane records (audit events, count buckets) have no admin here: Django's admin reads
one database per model, and region data may only be read by naming its region
(`in_region(code)`), which the admin's changelists, filters and search cannot do. Staff see
counts through the dashboard and the API, which name the region of every read.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from junction.residency.models import Region, TransferRule
from junction.residency.planes import region_code_check
from junction.residency.scoping import Action, as_scoped, is_scoped
from junction.residency.services import transfer_rule_delete, transfer_rule_save


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


class RegionForm(forms.ModelForm):
    endpoint = forms.URLField(
        required=False,
        assume_scheme="https",
        help_text=Region._meta.get_field("endpoint").help_text,
    )

    class Meta:
        model = Region
        fields = "__all__"

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        try:
            region_code_check(code)
        except forms.ValidationError as exc:
            raise forms.ValidationError(exc.message_dict["code"]) from exc
        return code


@admin.register(Region)
class RegionAdmin(RegionScopedAdmin):
    form = RegionForm
    list_display = [
        "code",
        "name",
        "endpoint",
        "timezone",
        "country",
        "subdivision",
        "min_bucket_seconds",
        "raw_retention_days",
        "rollup_retention_days",
        "k_threshold",
    ]
    search_fields = ["code", "name"]
    fieldsets = [
        (None, {"fields": ["code", "name", "endpoint"]}),
        # Validated by the model (junction.residency.locality), as region_add is.
        ("Local time and public holidays", {"fields": ["timezone", "country", "subdivision"]}),
        (
            "Policy",
            {
                "fields": [
                    "min_bucket_seconds",
                    "raw_retention_days",
                    "rollup_retention_days",
                    "k_threshold",
                    "dp_epsilon",
                    "classes",
                ]
            },
        ),
    ]

    def get_readonly_fields(self, request, obj=None):
        # A region's code names its database; renaming it would orphan the region's data.
        return ["code"] if obj else []

    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser


@admin.register(TransferRule)
class TransferRuleAdmin(admin.ModelAdmin):
    list_display = ["source", "destination", "level", "min_count", "active", "created_at"]
    list_filter = ["active", "level", "source", "destination"]

    # Letting data cross regions is a deployment-wide decision.
    has_module_permission = superuser_only
    has_view_permission = has_add_permission = superuser_only
    has_change_permission = has_delete_permission = superuser_only

    # Every change goes through the services, which audit it in the source region.
    def save_model(self, request, obj, form, change) -> None:
        transfer_rule_save(obj, actor=_actor(request))

    def delete_model(self, request, obj) -> None:
        transfer_rule_delete(obj, actor=_actor(request))

    def delete_queryset(self, request, queryset) -> None:
        for rule in queryset.select_related("source", "destination"):
            transfer_rule_delete(rule, actor=_actor(request))


def _actor(request) -> str:
    return request.user.get_username()
