"""Turns residency errors raised anywhere in a request into clear answers: 421 for a region
this node does not serve, 503 for a served region whose database cannot be reached."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.db import InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from junction.middleware import is_api
from junction.residency.errors import MisdirectedRegion, ResidencyViolation
from junction.residency.planes import region_alias, served_regions

log = logging.getLogger(__name__)

# Seconds a client should wait before asking an unreachable region again.
RETRY_AFTER_SECONDS = 30

T = TypeVar("T")


class ResidencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        _forget_failed_connects()
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, MisdirectedRegion):
            return misdirected_response(exception)
        if isinstance(exception, ResidencyViolation):
            log.error("residency violation on %s: %s", request.path, exception)
            return JsonResponse(
                {"error": "residency_violation", "detail": str(exception)}, status=500
            )
        if isinstance(exception, OperationalError | InterfaceError):
            regions = failed_regions()
            if regions:
                log.error(
                    "region database of %s unreachable on %s: %s",
                    ", ".join(regions),
                    request.path,
                    exception,
                )
                return unavailable_response(request, regions)
        return None


def misdirected_response(exc: MisdirectedRegion) -> JsonResponse:
    response = JsonResponse(
        {
            "error": "misdirected_region",
            "region": exc.region,
            "endpoint": exc.endpoint,
            "detail": str(exc),
        },
        status=421,
    )
    return response


def failed_regions() -> list[str]:
    """The served regions whose database connection failed in this request.

    Django flags the connection of the alias that raised an OperationalError or
    InterfaceError (`errors_occurred`, set by its error wrapper, cleared by a new connect),
    which is how an error is traced to its region rather than to the control plane.
    """
    return [code for code in served_regions() if connections[region_alias(code)].errors_occurred]


def read_unless_unreachable(region: str, read: Callable[[], T]) -> T | None:
    """`read()`, or None when it failed because `region`'s database is out of reach.

    For pages that show several regions at once (the home page): one dark region must not
    take the others down with it, while its own pages still answer 503. Any other error,
    including another region's, is raised as usual."""
    try:
        return read()
    except (OperationalError, InterfaceError):
        if region not in failed_regions():
            raise
        log.warning("region %s unreachable: its part of the page is left out", region)
        return None


def _forget_failed_connects() -> None:
    # A connect that failed in an earlier request leaves its flag behind on a connection that
    # was never opened (Django clears it only when it connects again); clear it, so only this
    # request's failures are blamed on a region.
    for code in served_regions():
        connection = connections[region_alias(code)]
        if connection.connection is None:
            connection.errors_occurred = False


def unavailable_response(request: HttpRequest, regions: list[str]) -> HttpResponse:
    """503 with Retry-After: the region's data is there, its database is out of reach."""
    named = ", ".join(regions)
    detail = (
        f"the database of region {named} cannot be reached just now; nothing is lost, "
        f"retry in {RETRY_AFTER_SECONDS} s"
    )
    response: HttpResponse
    if is_api(request):
        response = JsonResponse(
            {
                "error": "region_unavailable",
                "region": regions[0],
                "regions": regions,
                "detail": detail,
            },
            status=503,
        )
    else:
        response = render(
            request,
            "dashboard/unavailable.html",
            {"regions": regions, "named": named, "detail": detail},
            status=503,
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
