"""The secret key (config/secret_key.py): the keys every process refuses to
start with, and the key file a local run makes once and all its processes
share. Each start is a real process, started as a deployment would start it:
the base settings, no .env, none of the test run's settings."""

import hashlib
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.factories import UserFactory
from tests.support.servers import ROOT
from tests.support.stack import production_env

STRONG_KEY = "Yv0kq3TQ8bq1Jc2m5R7xW9zLp4Hn6Ds0Fg8Kj2Lm4Np6Qr8St0Uv2Wx4Yz6Ab8C"


def _placeholder_of_env_example() -> str:
    text = (ROOT / ".env.example").read_text()
    match = re.search(r"^DJANGO_SECRET_KEY=(.*)$", text, flags=re.MULTILINE)
    assert match, ".env.example sets no DJANGO_SECRET_KEY"
    return match.group(1)


PUBLIC_DEFAULT = "the default once shipped"
# Each refused key, and the reason the refusal gives.
REFUSED_KEYS = {
    "empty": ("", "is empty"),
    PUBLIC_DEFAULT: (
        "insecure-local-only-key-set-DJANGO_SECRET_KEY-in-production",
        "is the default once shipped",
    ),
    "the .env.example placeholder": (
        _placeholder_of_env_example(),
        "is a placeholder from .env.example",
    ),
    "made by Django for development": (
        "django-insecure-" + STRONG_KEY,
        'starts with "django-insecure-"',
    ),
    "shorter than 50 characters": (STRONG_KEY[:49], "is too weak"),
    "fewer than 5 different characters": ("abcd" * 20, "is too weak"),
}


def _env(var_dir: Path, **overrides: str) -> dict[str, str]:
    """A deployment's environment with no secret key of its own."""
    env = production_env(
        BULKYARD_ENV_FILE=str(var_dir.parent / "no.env"),
        BULKYARD_VAR_DIR=str(var_dir),
        **overrides,
    )
    if "DJANGO_SECRET_KEY" not in overrides:
        del env["DJANGO_SECRET_KEY"]
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def _manage_check(var_dir: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    return _run(["manage.py", "check"], _env(var_dir, **overrides))


def _make_key_file(var_dir: Path) -> Path:
    _run(["-m", "config.secret_key"], _env(var_dir)).check_returncode()
    return var_dir / "secret_key"


def test_a_start_without_a_key_or_a_key_file_is_refused(tmp_path):
    started = _manage_check(tmp_path / "var")

    assert started.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in started.stderr


@pytest.mark.parametrize(("key", "reason"), REFUSED_KEYS.values(), ids=REFUSED_KEYS.keys())
def test_a_start_with_a_refused_key_is_refused(tmp_path, key, reason):
    started = _manage_check(tmp_path / "var", DJANGO_SECRET_KEY=key)

    assert started.returncode != 0
    assert f"ImproperlyConfigured: DJANGO_SECRET_KEY {reason}" in started.stderr


def test_a_start_with_a_strong_key_succeeds(tmp_path):
    started = _manage_check(tmp_path / "var", DJANGO_SECRET_KEY=STRONG_KEY)

    assert started.returncode == 0, started.stderr


def test_a_refused_fallback_key_is_refused(tmp_path):
    started = _manage_check(
        tmp_path / "var",
        DJANGO_SECRET_KEY=STRONG_KEY,
        DJANGO_SECRET_KEY_FALLBACKS=",".join([STRONG_KEY[::-1], REFUSED_KEYS[PUBLIC_DEFAULT][0]]),
    )

    assert started.returncode != 0
    assert "DJANGO_SECRET_KEY_FALLBACKS[1] is the default once shipped" in started.stderr


def test_the_key_command_makes_an_owner_only_key_file(tmp_path):
    key_file = _make_key_file(tmp_path / "var")

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(key_file.read_text().strip()) >= 50


def test_the_key_command_keeps_the_key_it_made(tmp_path):
    key_file = _make_key_file(tmp_path / "var")
    first = key_file.read_text()

    _make_key_file(tmp_path / "var")

    assert key_file.read_text() == first


def test_the_key_command_stops_at_a_refused_key(tmp_path):
    made = _run(["-m", "config.secret_key"], _env(tmp_path / "var", DJANGO_SECRET_KEY=""))

    assert made.returncode != 0
    assert "Refusing to start: DJANGO_SECRET_KEY is empty" in made.stderr


def test_a_start_reads_the_key_file(tmp_path):
    _make_key_file(tmp_path / "var")

    started = _manage_check(tmp_path / "var")

    assert started.returncode == 0, started.stderr


# Each process says it is ready, waits for the go, then makes the key file (or
# finds it) and prints a digest of the key its settings would use.
RACER = """
import hashlib, pathlib, sys, time
from config import secret_key
pathlib.Path(sys.argv[1]).touch()
while not pathlib.Path(sys.argv[2]).exists():
    time.sleep(0.001)
secret_key.main()
print(hashlib.sha256(secret_key.secret_key_from_environment().encode()).hexdigest())
"""


def test_processes_making_the_key_file_together_end_with_the_same_key(tmp_path):
    var_dir, go = tmp_path / "var", tmp_path / "go"
    env = _env(var_dir)
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(tmp_path / f"ready-{n}"), str(go)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(6)
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < len(racers) and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()
    outcomes = [racer.communicate(timeout=60) for racer in racers]

    assert [racer.returncode for racer in racers] == [0] * len(racers), outcomes
    digest = hashlib.sha256((var_dir / "secret_key").read_text().strip().encode()).hexdigest()
    assert {stdout.split()[-1] for stdout, _ in outcomes} == {digest}
    assert sorted(path.name for path in var_dir.iterdir()) == ["secret_key"]


def test_a_key_file_other_users_may_read_is_refused(tmp_path):
    key_file = _make_key_file(tmp_path / "var")
    key_file.chmod(0o640)

    started = _manage_check(tmp_path / "var")

    assert started.returncode != 0
    assert f"The secret key file {key_file}" in started.stderr
    assert "may be read by other users (mode 0640)" in started.stderr


def test_a_development_start_makes_its_own_key_file(tmp_path):
    started = _manage_check(tmp_path / "var", DJANGO_DEBUG="true")

    assert started.returncode == 0, started.stderr
    assert stat.S_IMODE((tmp_path / "var" / "secret_key").stat().st_mode) == 0o600


ISSUE_TICKET = """
import sys, django
django.setup()
from django.contrib.auth import get_user_model
from bulkyard.users.tickets import ws_ticket_issue
print(ws_ticket_issue(user=get_user_model().objects.get(pk=int(sys.argv[1]))))
"""
REDEEM_TICKET = """
import sys, django
django.setup()
from bulkyard.users.tickets import ws_ticket_redeem
user = ws_ticket_redeem(sys.argv[1])
print(user.pk if user else "refused")
"""


@pytest.mark.django_db(transaction=True)
def test_processes_started_apart_accept_each_others_websocket_tickets(tmp_path):
    """What one web process issues, another redeems: both read the key file."""
    user = UserFactory()
    _make_key_file(tmp_path / "var")
    db = settings.DATABASES["default"]
    env = _env(
        tmp_path / "var",
        DATABASE_URL=(
            f"postgres://{db.get('USER') or 'postgres'}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
    )

    issued = _run(["-c", ISSUE_TICKET, str(user.pk)], env)
    issued.check_returncode()
    redeemed = _run(["-c", REDEEM_TICKET, issued.stdout.strip()], env)

    assert redeemed.returncode == 0, redeemed.stderr
    assert redeemed.stdout.strip() == str(user.pk)
