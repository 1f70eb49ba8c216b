"""Checks on every request before any view reads its query string.

A NUL byte in a query parameter cannot be stored or compared by PostgreSQL (SQLite takes it),
so a lookup with one failed as a 500 on one database and a 404 on the other. It is refused
here, for the API, the dashboard and the admin alike, with 400 naming the parameter.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.defaults import page_not_found

API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    """API callers get JSON answers; people on the dashboard and admin get pages."""
    return request.path.startswith(API_PREFIX)


class QueryStringMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        for name, values in request.GET.lists():
            if "\x00" in name or any("\x00" in value for value in values):
                return bad_request(
                    request, name.replace("\x00", "\\x00"), "must not contain a NUL byte"
                )
        return self.get_response(request)


def bad_request(request: HttpRequest, parameter: str, reason: str) -> HttpResponse:
    """400 naming the parameter, shaped like DRF's validation errors on the API."""
    if is_api(request):
        return JsonResponse({parameter: [reason]}, status=400)
    return render(
        request,
        "dashboard/bad_request.html",
        {"parameter": parameter, "reason": reason},
        status=400,
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for a path no URL matches: JSON like every other API error, a page elsewhere."""
    if is_api(request):
        return JsonResponse({"detail": f"nothing at {request.path}; see /api/docs/"}, status=404)
    return page_not_found(request, exception)
