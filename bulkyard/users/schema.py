"""How the OpenAPI schema describes API tokens."""

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class TokenScheme(OpenApiAuthenticationExtension):
    """An HTTP bearer scheme rather than drf-spectacular's ``apiKey`` one,
    whose value a tool sends as it is, without the ``Token`` keyword: Swagger
    UI and Postman (openapi-to-postmanv2) turn a bearer scheme into a token box
    that sends ``Authorization: Bearer <key>``, which the API accepts too."""

    target_class = "bulkyard.users.authentication.TokenAuthentication"
    name = "tokenAuth"
    # Ahead of drf-spectacular's own for DRF's class, which ours subclasses.
    priority = 1

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API token (`manage.py create_api_user alice --token-only`), sent as "
                "`Authorization: Bearer <key>` or `Authorization: Token <key>`."
            ),
        }
