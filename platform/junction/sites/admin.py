"""Admin for sites (with their counters) and devices.

Device secrets are never shown: adding or rotating a device renders its new secret once on a
page that is not cached, and state changes (rotate, finish rotation, revoke) are admin actions
that call the same services as the management commands.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.timesince import timesince

from junction.commands import one_line
from junction.residency.admin import RegionScopedAdmin
from junction.sites import services
from junction.sites.management.base import SECRET_WARNING
from junction.sites.models import Counter, Device, Site


class CounterInline(admin.TabularInline):
    model = Counter
    extra = 0
    fields = ["name", "kind", "geometry"]


@admin.register(Site)
class SiteAdmin(RegionScopedAdmin):
    list_display = ["slug", "name", "region", "timezone", "created_at"]
    list_filter = ["region"]
    search_fields = ["slug", "name"]
    inlines = [CounterInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("region")

    def get_readonly_fields(self, request, obj=None):
        # A site's counts live in its region's database; moving it would strand them there.
        return ["region"] if obj else []


class DeviceAddForm(forms.ModelForm):
    class Meta:
        model = Device
        fields = ["device_id", "site"]


def secrets_page(
    modeladmin: admin.ModelAdmin, request, issued: list[services.IssuedSecret], title: str
) -> TemplateResponse:
    response = TemplateResponse(
        request,
        "admin/sites/device/issued_secrets.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "issued": issued,
            "warning": SECRET_WARNING,
            "opts": modeladmin.model._meta,
        },
    )
    add_never_cache_headers(response)
    return response


@admin.register(Device)
class DeviceAdmin(RegionScopedAdmin):
    list_display = [
        "device_id",
        "site",
        "region",
        "last_batch_age",
        "batches_received",
        "last_model_name",
        "rotating",
        "revoked_at",
    ]
    list_filter = ["site__region", "revoked_at"]
    search_fields = ["device_id", "site__slug"]
    actions = ["rotate_secret", "finish_rotation", "revoke"]
    # The sealed secrets are never part of any admin form or page.
    exclude = ["secret_sealed", "previous_secret_sealed"]
    readonly_fields = [
        "device_id",
        "site",
        "fingerprint",
        "rotation_started_at",
        "revoked_at",
        "created_at",
        "last_batch_at",
        "batches_received",
        "last_model_name",
        "last_model_sha256",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("site__region")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = DeviceAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return ["device_id", "site"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    # --- adding goes through the service, and shows the secret once ---------------------

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return  # every field is read-only; state changes are actions
        issued = services.device_add(
            device_id=form.cleaned_data["device_id"], site=form.cleaned_data["site"].slug
        )
        obj.pk = issued.device.pk
        request._junction_issued = [issued]

    def response_add(self, request, obj, post_url_continue=None):
        return secrets_page(
            self, request, request._junction_issued, f"Device {obj.device_id} registered"
        )

    # --- columns ---------------------------------------------------------------------------

    @admin.display(description="region", ordering="site__region__code")
    def region(self, device: Device) -> str:
        return device.site.region.code

    @admin.display(description="last batch", ordering="last_batch_at")
    def last_batch_age(self, device: Device) -> str:
        if device.last_batch_at is None:
            return "never"
        return f"{timesince(device.last_batch_at, timezone.now())} ago"

    @admin.display(description="rotating", boolean=True)
    def rotating(self, device: Device) -> bool:
        return bool(device.previous_secret_sealed)

    @admin.display(description="secret fingerprint")
    def fingerprint(self, device: Device) -> str:
        return f"{device.secret_fingerprint[:12]}…"

    # --- actions ---------------------------------------------------------------------------

    def _each(self, request, queryset, service) -> list:
        done = []
        for device in queryset:
            try:
                done.append(service(device_id=device.device_id))
            except ValidationError as exc:
                self.message_user(request, one_line(exc), messages.ERROR)
        return done

    @admin.action(description="Rotate secret (old and new valid until finished)")
    def rotate_secret(self, request, queryset):
        issued = self._each(request, queryset, services.device_rotate)
        if issued:
            return secrets_page(self, request, issued, "New device secrets")
        return None

    @admin.action(description="Finish rotation (retire the old secret)")
    def finish_rotation(self, request, queryset):
        done = self._each(request, queryset, services.device_rotation_finish)
        if done:
            self.message_user(request, f"Rotation finished for {len(done)} device(s).")

    @admin.action(description="Revoke (refuse all further batches)")
    def revoke(self, request, queryset):
        done = self._each(request, queryset, services.device_revoke)
        if done:
            self.message_user(request, f"Revoked {len(done)} device(s).", messages.WARNING)
