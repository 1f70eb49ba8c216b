"""Every answer `/api/v1/` can give, in the OpenAPI schema with its body and headers.

One rule for all operations, read from the view rather than written on each: every operation
can answer 400 (a query parameter it cannot use, if only ?format=), 401 (no or bad
credentials), 403 (no role in the region), 429 (throttled) and 503 (a region database out of
reach); one with a path parameter 404, and with a region in its path 421 (the region lives on
another node). Statuses particular to one view (409 for a triage step the state does not allow) are
declared on that view with `answers(409)`.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

API_PREFIX = "/api/v1/"
JSON = "application/json"
CSV = "text/csv"
# ?format=csv answers an error as a table too (junction.api.formats).
CSV_ERRORS = {"type": "string", "description": "A header `field,message`, then one row per reason."}


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words a person can act on.")


class MisdirectedSerializer(ErrorSerializer):
    error = serializers.CharField(help_text='"misdirected_region"')
    region = serializers.CharField(help_text="The region the data lives in.")
    endpoint = serializers.CharField(
        help_text="That region's node; ask it instead.", allow_blank=True
    )


class UnavailableSerializer(ErrorSerializer):
    error = serializers.CharField(help_text='"region_unavailable"')
    region = serializers.CharField(help_text="The first region out of reach.")
    regions = serializers.ListField(
        child=serializers.CharField(), help_text="Every region out of reach in this request."
    )


# DRF's validation answer: each query parameter or body field it could not use, with reasons.
FIELD_ERRORS = {
    "type": "object",
    "additionalProperties": {"type": "array", "items": {"type": "string"}},
    "example": {"start": ["must be from 1970-01-01 up to (not including) 9999-01-01"]},
}

ANSWERS = {
    400: OpenApiResponse(
        FIELD_ERRORS, "A query parameter or body field it cannot use, named with the reason."
    ),
    401: OpenApiResponse(
        ErrorSerializer, "No credentials, or credentials it does not accept (see WWW-Authenticate)."
    ),
    403: OpenApiResponse(
        ErrorSerializer,
        "Signed in, but without the role this needs in the "
        "region, and no transfer rule that allows it.",
    ),
    404: OpenApiResponse(ErrorSerializer, "Nothing by that name or id."),
    409: OpenApiResponse(ErrorSerializer, "The object's state does not allow this step."),
    421: OpenApiResponse(MisdirectedSerializer, "The region's data lives on another node."),
    429: OpenApiResponse(ErrorSerializer, "Too many requests; retry after Retry-After seconds."),
    503: OpenApiResponse(
        UnavailableSerializer,
        "A region database is out of reach; nothing is lost, retry after Retry-After seconds.",
    ),
}

_HEADERS = [
    OpenApiParameter(
        "WWW-Authenticate",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[401],
        description="The schemes this API accepts.",
    ),
    OpenApiParameter(
        "Retry-After",
        OpenApiTypes.INT,
        OpenApiParameter.HEADER,
        response=[429, 503],
        description="Seconds to wait before retrying.",
    ),
]

# Path parameters that name a region, or an object that lives in one.
_REGION_PARAMETERS = ("{code}", "{slug}", "{device_id}")


def answers(*statuses: int) -> dict[tuple[int, str], OpenApiResponse]:
    """A view's own error statuses: `extend_schema(responses={200: ..., **answers(409)})`."""
    return {(status, JSON): ANSWERS[status] for status in statuses}


class ApiSchema(AutoSchema):
    # The choke point every operation's responses pass, whether the view declares them with
    # extend_schema or not (extend_schema replaces get_response_serializers, not this).
    def _get_response_bodies(self, direction: Any = "response") -> dict:
        bodies = super()._get_response_bodies(direction)
        if not self.path.startswith(API_PREFIX):
            return bodies
        for status in self.error_statuses():
            if str(status) not in bodies:
                bodies[str(status)] = self._get_response_for_code(
                    ANSWERS[status], str(status), [JSON], direction
                )
        for code, body in bodies.items():
            if code >= "400":
                body["content"][CSV] = {"schema": CSV_ERRORS}
        return bodies

    def get_override_parameters(self) -> list:
        parameters = list(super().get_override_parameters())
        return parameters + _HEADERS if self.path.startswith(API_PREFIX) else parameters

    def error_statuses(self) -> list[int]:
        statuses = [400, 401, 403, 429, 503]
        if "{" in self.path:
            statuses.append(404)
        if any(name in self.path for name in _REGION_PARAMETERS):
            statuses.append(421)
        return sorted(statuses)
