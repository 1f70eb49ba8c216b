"""Admin for alert subscriptions (control plane). Region-plane analytics data is read through
selectors and the operator commands, never through an admin that does not name a region.

Subscriptions are scoped like sites (`RegionScopedAdmin`): an operator sees, adds and changes
only those of their regions. The webhook secret is write-only: a form field that sets or
replaces it, never a value shown on any page, column or search.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from junction.analytics.models import AlertSubscription
from junction.residency.admin import RegionScopedAdmin


class AlertSubscriptionForm(forms.ModelForm):
    webhook_url = forms.URLField(
        required=False, assume_scheme="https", help_text="Where anomalies are POSTed (signed)."
    )
    new_webhook_secret = forms.CharField(
        label="Webhook secret",
        required=False,
        strip=True,
        max_length=200,
        widget=forms.PasswordInput(render_value=False),
        help_text="Write-only: receivers check the X-Junction-Signature made with it. Leave "
        "blank to keep the current secret; it is never shown again.",
    )

    class Meta:
        model = AlertSubscription
        exclude = ["webhook_secret"]

    def save(self, commit: bool = True) -> AlertSubscription:
        if self.cleaned_data.get("new_webhook_secret"):
            self.instance.webhook_secret = self.cleaned_data["new_webhook_secret"]
        return super().save(commit=commit)


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(RegionScopedAdmin):
    form = AlertSubscriptionForm
    list_display = ("name", "region", "min_severity", "webhook_url", "has_webhook_secret", "active")
    list_filter = ("region", "active")
    search_fields = ("name", "webhook_url")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("region")

    def get_fields(self, request, obj=None):
        fields = [
            "name",
            "region",
            "min_severity",
            "kinds",
            "webhook_url",
            "has_webhook_secret",
            "emails",
            "active",
        ]
        if obj is None or self.has_change_permission(request, obj):
            fields.insert(fields.index("has_webhook_secret") + 1, "new_webhook_secret")
        return fields

    def get_readonly_fields(self, request, obj=None):
        return ["has_webhook_secret"]

    @admin.display(description="webhook secret set", boolean=True)
    def has_webhook_secret(self, subscription: AlertSubscription) -> bool:
        return bool(subscription.webhook_secret)
