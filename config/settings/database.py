"""Database: PostgreSQL from DATABASE_URL, else an embedded SQLite file.

The SQLite default exists so the run command works on a machine with no
database server. WAL lets the web process read while a worker writes, the busy
timeout makes writers wait instead of failing, and IMMEDIATE transactions take
the write lock up front so two writers cannot deadlock on a lock upgrade.
"""

from django.core.exceptions import ImproperlyConfigured

from config.env import VAR_DIR, env
from config.secret_key import PLACEHOLDER_MARK

if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    # Compose builds DATABASE_URL from POSTGRES_PASSWORD: a copied .env.example
    # would otherwise start a database whose password is printed in this repository.
    if PLACEHOLDER_MARK in str(DATABASES["default"].get("PASSWORD", "")).lower():
        raise ImproperlyConfigured(
            f"The database password in DATABASE_URL is a placeholder from .env.example (it "
            f'contains "{PLACEHOLDER_MARK}"): set POSTGRES_PASSWORD (Compose) or the '
            f"password in DATABASE_URL to a secret of your own, e.g. the output of "
            f'`python3 -c "import secrets; print(secrets.token_urlsafe(24))"`.'
        )
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Django's backend with a breaker: while the server is down, requests
        # fail in milliseconds instead of each waiting out a connect timeout.
        DATABASES["default"]["ENGINE"] = "bulkyard.core.postgres"
        # An unreachable host (packets dropped, not refused) fails within this.
        DATABASES["default"].setdefault("OPTIONS", {})["connect_timeout"] = env.int(
            "DATABASE_CONNECT_TIMEOUT", default=3
        )
    # Django's advice under ASGI: no persistent connections, the driver's pool
    # instead, by default in the web process (config/asgi.py says which process
    # this is). Without it each request opens a connection: a PostgreSQL backend
    # forked and torn down, which costs several times the status read itself.
    # Prefork workers get no pool (its threads do not survive a fork):
    # persistent connections instead (DATABASE_CONN_MAX_AGE=60). Each web
    # process has a pool of its own (config/web.py starts one per core, up to
    # 4): at most processes x max_size connections, 40 by default. A request
    # holds a connection only while it runs (a status read takes a
    # millisecond or two), so 10 cover hundreds of requests a second per
    # process; more threads than that wait for one, up to the timeout.
    _asgi = env.str("BULKYARD_SERVER", default="") == "asgi"
    if env.bool("DATABASE_POOL", default=_asgi):
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=10),
            # How long a request waits for a connection before it gets a 503:
            # PostgreSQL down must answer fast, not hang (decision 0009).
            "timeout": env.float("DATABASE_POOL_TIMEOUT", default=3.0),
        }
        DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django refuses both together
    else:
        DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.str("SQLITE_PATH", default=str(VAR_DIR / "bulkyard.sqlite3")),
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }
