"""The one place that reads the process environment.

Every setting that can change between deployments is read here, through
django-environ (chosen because it parses URLs, booleans, lists and JSON with one
consistent API and reads an optional ``.env`` file), so ``grep env.`` lists the
whole configuration surface.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

_dotenv = Path(env.str("BULKYARD_ENV_FILE", default=str(BASE_DIR / ".env")))
if _dotenv.is_file():
    environ.Env.read_env(_dotenv, overwrite=False)

# Writable folder for the embedded defaults (SQLite, file broker, uploads).
VAR_DIR = Path(env.str("BULKYARD_VAR_DIR", default=str(BASE_DIR / "var")))

# Behind a TLS proxy that sets X-Forwarded-Proto and X-Forwarded-For: read by
# Django's settings (HTTPS detection, the client address that limits count) and
# by the web server (whether to believe those headers), which must agree.
BEHIND_TLS_PROXY = env.bool("DJANGO_BEHIND_TLS_PROXY", default=False)
