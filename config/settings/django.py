"""Core Django: apps, middleware, templates, static and media files (security
settings: security.py)."""

from pathlib import Path

import django_stubs_ext

from config.env import VAR_DIR, env
from config.settings.storage import DEFAULT_STORAGE

# Lets ``ModelAdmin[Job]``-style generics used for type checking work at run time.
django_stubs_ext.monkeypatch()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "bulkyard.core",
    "bulkyard.users",
    "bulkyard.jobs",
    "bulkyard.text",
    "bulkyard.images",
    "bulkyard.targets",
    "bulkyard.data",
    "bulkyard.mail",
    "bulkyard.outbound",
    "bulkyard.web",
    "axes",
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "web:job-list"
LOGOUT_REDIRECT_URL = "login"

MIDDLEWARE = [
    # First: a request id, the access log line and the latency of every request
    # (bulkyard/core/access.py), whatever the middleware below answers.
    "bulkyard.core.access.AccessLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The Content-Security-Policy (config/settings/csp.py), django-csp's middleware
    # plus the browsable API's exceptions.
    "bulkyard.core.browsable_api.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Before CommonMiddleware's redirect, which turns a POST into a GET.
    "bulkyard.core.slashes.ApiTrailingSlashMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its page (config/settings/auth.py).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

STATIC_URL = "static/"
STATIC_ROOT = env.str("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "static"))
Path(STATIC_ROOT).mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
# Uploaded inputs and job outputs on the local storage (BULKYARD_STORAGE=local,
# config/settings/storage.py): web and workers must share the folder (a volume).
MEDIA_ROOT = env.str("DJANGO_MEDIA_ROOT", default=str(VAR_DIR / "media"))
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {
        "BACKEND": env.str(
            "DJANGO_STATICFILES_STORAGE",
            default="django.contrib.staticfiles.storage.StaticFilesStorage",
        )
    },
}
# Whitenoise serves admin and Swagger UI assets from the app itself, so the
# service works with no CDN and no separate static server.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)
