"""Admin for region memberships: the deployment administrator's alone."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from junction.accounts import services
from junction.accounts.models import ApiToken, RegionMembership
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


class ApiTokenAddForm(forms.ModelForm):
    expires_days = forms.IntegerField(
        min_value=1,
        max_value=services.API_TOKEN_DAYS_MAX,
        initial=services.API_TOKEN_DAYS_DEFAULT,
        help_text="days until the token expires",
    )

    class Meta:
        model = ApiToken
        fields = ["user", "name", "region", "read_only"]

    def clean(self):
        data = super().clean()
        if data is not None and not self.errors:
            # The service's own rules (a region the user holds...), as form errors.
            errors = services.api_token_errors(
                user=data["user"],
                name=data["name"],
                region=data["region"].code if data["region"] else None,
                expires_days=data["expires_days"],
            )
            for field, message in errors.items():
                self.add_error(field if field in self.fields else None, message)
        return data


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens of any user, for the deployment's administrators: created through the service
    (the token is shown once, in the message after saving), revoked by the action; a token's
    own fields never change after it is issued."""

    list_display = [
        "name",
        "user",
        "key",
        "region",
        "read_only",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["region", "read_only"]
    search_fields = ["name", "key", "user__username"]
    autocomplete_fields = ["user"]
    actions = ["revoke"]
    readonly_fields = [
        "user",
        "name",
        "key",
        "region",
        "read_only",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    ]

    has_module_permission = superuser_only
    has_view_permission = has_add_permission = has_change_permission = superuser_only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoked, never deleted: the row is the record of what it could reach

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiTokenAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def save_form(self, request, form, change):
        if change:
            return form.instance  # nothing of an issued token changes (see readonly_fields)
        data = form.cleaned_data
        issued = services.api_token_create(
            user=data["user"],
            name=data["name"],
            region=data["region"].code if data["region"] else None,
            read_only=data["read_only"],
            expires_days=data["expires_days"],
        )
        messages.warning(request, f"The token, shown this once: {issued.token}")
        return issued.api_token

    def save_model(self, request, obj, form, change) -> None:
        pass  # saved by the service in save_form

    def save_related(self, request, form, formsets, change) -> None:
        pass  # a token has no related rows to save

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request, queryset) -> None:
        for api_token in queryset:
            services.api_token_revoke(api_token_id=api_token.pk)
        self.message_user(request, f"{queryset.count()} token(s) revoked.")
