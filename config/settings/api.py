"""Django REST Framework and the OpenAPI schema."""

from config.env import env

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # DRF's, with its query written out (the same result, a third of the CPU).
        "bulkyard.users.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "bulkyard.core.parsers.SafeJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "bulkyard.core.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_THROTTLE_CLASSES": [
        # DRF's, counting in two windows: the same cost at any rate.
        "bulkyard.core.throttling.UserRateThrottle",
        "bulkyard.core.throttling.AnonRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "user": env.str("API_THROTTLE_USER", default="600/min"),
        "anon": env.str("API_THROTTLE_ANON", default="60/min"),
        "job_create": env.str("API_THROTTLE_JOB_CREATE", default="120/min"),
    },
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        # DRF's, with nothing inline the Content-Security-Policy refuses.
        "bulkyard.core.browsable_api.BrowsableAPIRenderer",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "URL_FORMAT_OVERRIDE": None,
    "EXCEPTION_HANDLER": "bulkyard.core.exceptions.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Bulkyard API",
    "DESCRIPTION": (
        "Submit bulk jobs (imports, emails, images, text, outbound calls), follow their "
        "progress and download per-item results. Every job is answered with `202 Accepted` "
        "at once and processed by Celery workers in bounded chunks."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "bulkyard.core.api_docs.add_servers",
    ],
}

# Bodies larger than this are refused with 413 before a worker sees them.
BULKYARD_MAX_UPLOAD_BYTES = env.int("BULKYARD_MAX_UPLOAD_BYTES", default=512 * 1024 * 1024)
# Inline JSON items are for small batches; larger ones belong in a file upload.
BULKYARD_MAX_INLINE_ITEMS = env.int("BULKYARD_MAX_INLINE_ITEMS", default=10_000)
# Files sent with a job besides its input (e.g. email attachments): how many,
# and their total size (mail servers commonly refuse messages over ~25 MB).
BULKYARD_MAX_ATTACHMENTS = env.int("BULKYARD_MAX_ATTACHMENTS", default=10)
BULKYARD_MAX_ATTACHMENT_BYTES = env.int("BULKYARD_MAX_ATTACHMENT_BYTES", default=20 * 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=16 * 1024 * 1024)
FILE_UPLOAD_HANDLERS = ["bulkyard.jobs.uploads.LimitedHashingUploadHandler"]
