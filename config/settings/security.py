"""Security: the secret key, HTTPS, cookies and the browser protections.

docs/security.md explains each, and lists the production environment with
which ``manage.py check --deploy`` has nothing to warn about.
"""

from config.env import BEHIND_TLS_PROXY, env
from config.secret_key import (
    FALLBACKS_VARIABLE,
    secret_key_fallbacks_check,
    secret_key_from_environment,
)

# From DJANGO_SECRET_KEY, or the key file a local run makes; a public, weak or
# missing key stops the process here (config/secret_key.py).
SECRET_KEY = secret_key_from_environment()
# Earlier keys, still accepted for what they signed while SECRET_KEY signs
# everything new: a key can be replaced without signing everyone out.
SECRET_KEY_FALLBACKS = secret_key_fallbacks_check(
    fallbacks=env.list(FALLBACKS_VARIABLE, default=[])
)

# HTTPS. The web server speaks plain HTTP; TLS ends at a proxy in front of it.
if BEHIND_TLS_PROXY:
    # Only behind a proxy that sets this header: otherwise clients could fake it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
# Load balancers and orchestrators probe health over plain HTTP from inside;
# a redirect would read as a failed probe.
SECURE_REDIRECT_EXEMPT = [r"^health/$"]
# Strict-Transport-Security, sent on HTTPS responses: browsers then refuse
# plain HTTP to this host for that many seconds. Off by default: once sent, it
# cannot be taken back before it expires.
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=False)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE

# Django's defaults, stated so that they are not lost by accident.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
