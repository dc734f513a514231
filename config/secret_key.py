"""Django's SECRET_KEY: where it comes from, and the keys refused.

Django signs sessions, password-reset links and this project's WebSocket
tickets with it: whoever knows it can sign in as any user. So a key that is
public (a default once shipped in code, a placeholder of ``.env.example``) or
guessable (Django's own ``check --deploy`` rule) stops the process at start-up
instead of being used.

A deployment sets ``DJANGO_SECRET_KEY``. A local run needs none: ``bin/run``
runs ``python -m config.secret_key``, which makes a random key once in
``$BULKYARD_VAR_DIR/secret_key``, readable by its owner only; every process
the run starts (web processes, worker, beat, ``manage.py``) reads that same
file, so what one signs the others accept. With ``DJANGO_DEBUG`` on, loading
the settings makes the file too. Without either, an unset key is refused:
a forgotten variable must not start a deployment whose processes would each
sign with a different key.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
import tempfile
from pathlib import Path

from django.core.checks.security.base import (
    SECRET_KEY_INSECURE_PREFIX,
    SECRET_KEY_MIN_LENGTH,
    SECRET_KEY_MIN_UNIQUE_CHARACTERS,
)
from django.core.exceptions import ImproperlyConfigured

from config.env import VAR_DIR, env

VARIABLE = "DJANGO_SECRET_KEY"
FALLBACKS_VARIABLE = "DJANGO_SECRET_KEY_FALLBACKS"
KEY_FILE = VAR_DIR / "secret_key"
# Defaults once shipped in this project's code: anyone can read them.
PUBLIC_DEFAULTS = frozenset({"insecure-local-only-key-set-DJANGO_SECRET_KEY-in-production"})
# Every placeholder of .env.example contains it ("replace every change-me").
PLACEHOLDER_MARK = "change-me"
# 50 random bytes: 67 URL-safe characters, well past Django's 50-character rule.
KEY_BYTES = 50
GENERATE_COMMAND = 'python3 -c "import secrets; print(secrets.token_urlsafe(50))"'


def secret_key_problem(key: str) -> str | None:
    """Why ``key`` must not sign anything (a phrase following its name), or
    None if it may."""
    if not key.strip():
        return "is empty"
    if key in PUBLIC_DEFAULTS:
        return "is the default once shipped in Bulkyard's code, which is public"
    if PLACEHOLDER_MARK in key.lower():
        return f'is a placeholder from .env.example (it contains "{PLACEHOLDER_MARK}")'
    if key.startswith(SECRET_KEY_INSECURE_PREFIX):
        return (
            f'starts with "{SECRET_KEY_INSECURE_PREFIX}", the mark of a key Django made '
            "for development"
        )
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (
            f"is too weak: fewer than {SECRET_KEY_MIN_LENGTH} characters, or fewer than "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} different ones"
        )
    return None


def _refusal(problem: str, *, key_file: Path) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"{problem}. Django signs sessions, password-reset links and WebSocket tickets with "
        f"the secret key: whoever knows it can act as any user. Set {VARIABLE} to a long "
        f"random value, e.g. the output of `{GENERATE_COMMAND}` (for a local run, leave it "
        f"unset and run `python -m config.secret_key`, as bin/run does, to keep one in "
        f"{key_file}). See docs/security.md, 'The secret key'."
    )


def secret_key_decide(*, configured: str | None, key_file: Path, create: bool) -> str:
    """The key to sign with: ``configured`` (``DJANGO_SECRET_KEY``) when set,
    else the key file's, made first if ``create``. Raises ImproperlyConfigured
    for a refused key or when there is none."""
    if configured is not None:
        if problem := secret_key_problem(configured):
            raise _refusal(f"{VARIABLE} {problem}", key_file=key_file)
        return configured
    if create:
        secret_key_file_ensure(key_file=key_file)
    if not key_file.exists():
        raise _refusal(
            f"{VARIABLE} is not set and there is no key file at {key_file}", key_file=key_file
        )
    return secret_key_file_read(key_file=key_file)


def secret_key_fallbacks_check(*, fallbacks: list[str]) -> list[str]:
    """``fallbacks`` (earlier keys still accepted for what they signed) if none
    of them is refused: an old public key kept as a fallback would keep
    forged signatures valid."""
    for index, key in enumerate(fallbacks):
        if problem := secret_key_problem(key):
            raise ImproperlyConfigured(
                f"{FALLBACKS_VARIABLE}[{index}] {problem}. A fallback key still verifies "
                "what it signed: leave out any key that is public or weak (see "
                "docs/security.md, 'The secret key')."
            )
    return fallbacks


def secret_key_file_ensure(*, key_file: Path) -> bool:
    """Make ``key_file`` with a new random key unless it exists; True if this
    call made it.

    Safe when processes race: each writes a key to a temporary file of its own
    (created owner-only) and links it into place only if no file is there yet,
    so none reads a half-written key and all end with the key of the first."""
    if key_file.exists():
        return False
    key_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=key_file.parent, prefix=".secret_key-")
    try:
        with os.fdopen(descriptor, "w") as stream:
            stream.write(secrets.token_urlsafe(KEY_BYTES) + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, key_file)
        except FileExistsError:
            return False
        return True
    finally:
        os.unlink(temporary)


def secret_key_file_read(*, key_file: Path) -> str:
    """The key kept in ``key_file``; refused if other users may read the file
    (they may have copied the key) or if the key itself is refused."""
    mode = stat.S_IMODE(key_file.stat().st_mode)
    if mode & 0o077:
        raise ImproperlyConfigured(
            f"The secret key file {key_file} (used because {VARIABLE} is not set) may be "
            f"read by other users (mode {mode:04o}). If nobody else could have read it, "
            f"make it owner-only: chmod 600 {key_file}; else delete it, and a new key is "
            "made on the next bin/run (signing everyone out)."
        )
    key = key_file.read_text().strip()
    if problem := secret_key_problem(key):
        raise _refusal(
            f"The key in {key_file} (used because {VARIABLE} is not set) {problem}",
            key_file=key_file,
        )
    return key


def _configured() -> str | None:
    """DJANGO_SECRET_KEY, or None if unset. Set but empty is a value to refuse,
    which ``env.str(..., default=None)`` would take for unset."""
    return env.str(VARIABLE) if VARIABLE in env.ENVIRON else None


def secret_key_from_environment() -> str:
    """The key the settings use, from the environment (see the module's doc)."""
    return secret_key_decide(
        configured=_configured(),
        key_file=KEY_FILE,
        create=env.bool("DJANGO_DEBUG", default=False),
    )


def secret_key_check_or_exit() -> None:
    """Exit with the reason if the settings would refuse the key: for a
    command that starts other processes, so that it stops once, with one
    message, rather than each of its processes failing with a traceback."""
    try:
        secret_key_from_environment()
    except ImproperlyConfigured as refusal:
        sys.exit(f"Refusing to start: {refusal}")


def main() -> None:
    """``python -m config.secret_key``: make the local key file unless
    ``DJANGO_SECRET_KEY`` is set, then check the key the processes will use."""
    if _configured() is None and secret_key_file_ensure(key_file=KEY_FILE):
        print(f"Made a secret key for local runs in {KEY_FILE} (readable by you only).")
    secret_key_check_or_exit()


if __name__ == "__main__":
    main()
