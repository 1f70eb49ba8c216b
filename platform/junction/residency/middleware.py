"""Turns residency errors raised anywhere in a request into clear JSON answers."""

from __future__ import annotations

import logging

from django.http import JsonResponse

from junction.residency.errors import MisdirectedRegion, ResidencyViolation

log = logging.getLogger(__name__)


class ResidencyMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, MisdirectedRegion):
            return misdirected_response(exception)
        if isinstance(exception, ResidencyViolation):
            log.error("residency violation on %s: %s", request.path, exception)
            return JsonResponse({"error": "residency_violation", "detail": str(exception)},
                                status=500)
        return None


def misdirected_response(exc: MisdirectedRegion) -> JsonResponse:
    response = JsonResponse(
        {"error": "misdirected_region", "region": exc.region, "endpoint": exc.endpoint,
         "detail": str(exc)},
        status=421,
    )
    return response
