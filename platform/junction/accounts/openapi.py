"""The API token in the OpenAPI schema: a `bearerAuth` security scheme, so Swagger UI's
"Authorize" takes a token and the schema tells integrators how to send it."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object


class BearerAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "junction.accounts.tokens.BearerAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        scheme = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix="Bearer"
        )
        scheme["description"] = (
            "An API token (DESIGN.md section 9): `manage.py "
            "api_token_create` or the dashboard's API tokens page."
        )
        return scheme
