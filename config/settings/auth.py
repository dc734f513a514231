"""Signing in and password resets: how many failed sign-ins an account or a
client address may make (django-axes), how many reset emails may be asked
for, and which address a request counts against. docs/security.md
("Signing in") explains each limit and why django-axes."""

from datetime import timedelta

from config.env import BEHIND_TLS_PROXY, env

AUTHENTICATION_BACKENDS = [
    # First: a locked-out account or address is refused before any password
    # is hashed, whichever login page (or code) called authenticate().
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

AXES_FAILURE_LIMIT = env.int("BULKYARD_LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("BULKYARD_LOGIN_LOCKOUT_MINUTES", default=15))
# Two separate parameters, not one combination: failures against one account
# from many addresses lock the account, failures from one address against
# many accounts lock the address.
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The records live in the database (PostgreSQL, or SQLite on the embedded
# run), where staff see them in the admin; this handler is axes' database
# handler with a narrower reset on success (bulkyard/users/signin.py).
AXES_HANDLER = "bulkyard.users.signin.SignInAttemptsHandler"
AXES_RESET_ON_SUCCESS = True
# Attempts made during a lockout are refused unchecked and not recorded: the
# lockout then ends at most one cool-off after the failure that started it,
# as its page says, however often the client keeps trying (which would also
# grow the record by each attempt's form data).
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Masked in the records' form data and in log lines (passwords always are).
# A form's CSRF token can be unmasked into the user's CSRF secret.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "csrfmiddlewaretoken"]
AXES_CLIENT_IP_CALLABLE = "bulkyard.core.client_ip.client_address"
AXES_LOCKOUT_CALLABLE = "bulkyard.web.accounts.locked_out"

# Read the client's address from the last X-Forwarded-For entry, the one
# the TLS proxy added. Only behind that proxy: otherwise a client could name
# any address it likes in the header.
BULKYARD_CLIENT_ADDRESS_FROM_PROXY = BEHIND_TLS_PROXY

# Password reset emails (DRF rate strings: N/sec, N/min, N/hour, N/day),
# counted in the cache: per client address, and per mailbox asked for.
BULKYARD_PASSWORD_RESET_RATE_PER_ADDRESS = env.str(
    "BULKYARD_PASSWORD_RESET_RATE_PER_ADDRESS", default="5/hour"
)
BULKYARD_PASSWORD_RESET_RATE_PER_EMAIL = env.str(
    "BULKYARD_PASSWORD_RESET_RATE_PER_EMAIL", default="3/hour"
)
