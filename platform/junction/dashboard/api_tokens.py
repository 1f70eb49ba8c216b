"""The "API tokens" page: a member of staff issues and revokes tokens for themselves.

A new token is in the answer to the POST that made it, and nowhere else: it is not put in
the session or a message for a later page, and the answer is `no-store`, so going back or
reloading cannot show it again.
"""

from __future__ import annotations

from typing import cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_POST

from junction.accounts import services
from junction.accounts.models import ApiToken, RegionMembership
from junction.residency.models import Region


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=100, help_text="who or what will use it, e.g. “signal vendor nightly export”"
    )
    region = forms.ChoiceField(required=False, help_text="narrow it to one of your regions")
    read_only = forms.BooleanField(
        required=False, label="Read-only", help_text="no writes, whatever your role"
    )
    expires_days = forms.IntegerField(
        label="Expires after (days)",
        min_value=1,
        max_value=services.API_TOKEN_DAYS_MAX,
        initial=services.API_TOKEN_DAYS_DEFAULT,
    )

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        codes = (
            Region.objects.values_list("code", flat=True)
            if user.is_superuser
            else RegionMembership.objects.filter(user=user).values_list("region__code", flat=True)
        )
        region = cast(forms.ChoiceField, self.fields["region"])
        region.choices = [("", "all of my regions"), *((code, code) for code in sorted(codes))]


@login_required
def api_tokens(request: HttpRequest) -> HttpResponse:
    user = cast(User, request.user)  # login_required
    issued = None
    if request.method == "POST":
        form = ApiTokenForm(request.POST, user=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                issued = services.api_token_create(
                    user=user,
                    name=data["name"],
                    region=data["region"] or None,
                    read_only=data["read_only"],
                    expires_days=data["expires_days"],
                )
            except ValidationError as exc:
                for field, errors in exc.message_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                form = ApiTokenForm(user=user)
    else:
        form = ApiTokenForm(user=user)
    now = timezone.now()
    response = render(
        request,
        "dashboard/api_tokens.html",
        {
            "form": form,
            "issued": issued,
            "tokens": [
                (row, row.state(now))
                for row in ApiToken.objects.filter(user=user).select_related("region")
            ],
        },
        status=422 if form.errors else 200,
    )
    add_never_cache_headers(response)
    return response


@login_required
@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """POST only (CSRF-checked); a member of staff revokes only their own tokens."""
    try:
        row = services.api_token_revoke(api_token_id=pk, user=cast(User, request.user))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Token “{row.name}” ({row.key}) revoked.")
    return redirect("dashboard:api-tokens")
