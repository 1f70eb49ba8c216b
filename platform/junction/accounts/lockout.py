"""The answer to a locked-out login: 429 with Retry-After, as DESIGN.md section 9 promises."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def lockout_response(
    request: HttpRequest,
    response: HttpResponse | None = None,
    credentials: dict | None = None,
    *args,
    **kwargs,
) -> HttpResponse:
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    answer = TemplateResponse(
        request, "dashboard/locked_out.html", {"minutes": max(1, seconds // 60)}, status=429
    )
    answer["Retry-After"] = str(seconds)
    return answer.render()
