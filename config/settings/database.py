"""Database: PostgreSQL from DATABASE_URL, else an embedded SQLite file.

The SQLite default exists so the run command works on a machine with no
database server. WAL lets the web process read while a worker writes, the busy
timeout makes writers wait instead of failing, and IMMEDIATE transactions take
the write lock up front so two writers cannot deadlock on a lock upgrade.
"""

from config.env import VAR_DIR, env

if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    # 0 by default: Django's docs advise against persistent connections under
    # ASGI. Workers (sync, long-lived) may set DATABASE_CONN_MAX_AGE=60.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
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
