"""Admin for alert subscriptions (control plane). Region-plane analytics data is read through
selectors and the operator commands, never through an admin that does not name a region."""

from django.contrib import admin

from junction.analytics.models import AlertSubscription


@admin.register(AlertSubscription)
class AlertSubscriptionAdmin(admin.ModelAdmin):
    list_display = ("name", "region", "min_severity", "webhook_url", "active")
    list_filter = ("region", "active")
    search_fields = ("name", "webhook_url")
