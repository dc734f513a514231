"""Failed sign-ins lock out the account and the client address (django-axes,
records in the real PostgreSQL), through every login page; a lockout ends
after the cool-off or when staff unlock it."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.db.models import F
from django.test import Client

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "secret-password-1"  # the factory's
ADDRESS = "203.0.113.7"
OTHER_ADDRESS = "192.0.2.20"
DOORS = ["/accounts/login/", "/admin/login/", "/api-auth/login/"]


@pytest.fixture
def limit(settings) -> int:
    return settings.AXES_FAILURE_LIMIT


def _sign_in(client, username, password, *, address=ADDRESS, door="/accounts/login/", **extra):
    return client.post(
        door, {"username": username, "password": password}, REMOTE_ADDR=address, **extra
    )


def _fail(client, username, times, *, address=ADDRESS, door="/accounts/login/") -> None:
    for _ in range(times):
        _sign_in(client, username, "wrong-password", address=address, door=door)


def _signed_in(client) -> bool:
    return "_auth_user_id" in client.session


def test_the_right_password_is_refused_once_an_account_reaches_the_failure_limit(
    client, user, limit
):
    _fail(client, user.username, limit)

    response = _sign_in(client, user.username, PASSWORD)

    assert response.status_code == 429
    assert not _signed_in(client)


def test_failures_below_the_limit_leave_the_right_password_working(client, user, limit):
    _fail(client, user.username, limit - 1)

    response = _sign_in(client, user.username, PASSWORD)

    assert response.status_code == 302
    assert _signed_in(client)


def test_an_address_is_locked_out_by_failures_against_many_accounts(client, user, limit):
    for n in range(limit):
        _sign_in(client, f"nobody{n}", "wrong-password")

    from_there = _sign_in(client, user.username, PASSWORD)
    from_elsewhere = _sign_in(Client(), user.username, PASSWORD, address=OTHER_ADDRESS)

    assert from_there.status_code == 429
    assert from_elsewhere.status_code == 302


def test_an_account_is_locked_out_by_failures_from_many_addresses(client, user, limit):
    for n in range(limit):
        _fail(client, user.username, 1, address=f"198.51.100.{n + 1}")

    response = _sign_in(client, user.username, PASSWORD, address=OTHER_ADDRESS)

    assert response.status_code == 429
    assert not _signed_in(client)


def test_the_lockout_ends_after_the_cool_off(client, user, limit, settings):
    _fail(client, user.username, limit)

    # Move the failures back in time by the cool-off, as if it had passed.
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    response = _sign_in(client, user.username, PASSWORD)

    assert response.status_code == 302
    assert _signed_in(client)


def test_attempts_during_a_lockout_do_not_make_it_longer(client, user, limit, settings):
    _fail(client, user.username, limit)
    AccessAttempt.objects.update(
        attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME + timedelta(seconds=30)
    )

    _fail(client, user.username, 5)  # refused unchecked while locked out
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=31))
    response = _sign_in(client, user.username, PASSWORD)

    assert response.status_code == 302


def test_staff_unlock_a_user_from_the_user_admin(client, user, limit):
    _fail(client, user.username, limit)
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))

    unlock = staff.post(
        "/admin/auth/user/", {"action": "unlock_sign_in", "_selected_action": [user.pk]}
    )
    response = _sign_in(client, user.username, PASSWORD)

    assert unlock.status_code == 302
    assert response.status_code == 302
    assert _signed_in(client)


def test_staff_see_failed_sign_ins_in_the_admin(client, user):
    _fail(client, user.username, 2)
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))

    response = staff.get("/admin/axes/accessattempt/")

    assert response.status_code == 200
    assert user.username in response.content.decode()
    assert ADDRESS in response.content.decode()


@pytest.mark.parametrize("door", DOORS)
def test_failures_at_every_login_page_count_toward_the_lockout(client, door, limit):
    staff = UserFactory(is_staff=True)  # the admin's page lets only staff in
    _fail(client, staff.username, limit, door=door)

    response = _sign_in(client, staff.username, PASSWORD, door=door)

    assert response.status_code == 429
    assert not _signed_in(client)


def test_failures_at_different_login_pages_add_up(client, user, limit):
    for n in range(limit):
        _fail(client, user.username, 1, door=DOORS[n % len(DOORS)])

    response = _sign_in(client, user.username, PASSWORD)

    assert response.status_code == 429


def test_signing_in_clears_the_accounts_failures(client, user, limit):
    _fail(client, user.username, limit - 1)
    assert _sign_in(Client(), user.username, PASSWORD).status_code == 302

    _fail(client, user.username, limit - 1)
    response = _sign_in(client, user.username, PASSWORD)

    assert response.status_code == 302


def test_signing_in_to_ones_own_account_keeps_failures_against_another(client, user, limit):
    guesser = UserFactory()
    _fail(client, user.username, limit - 1)
    assert _sign_in(Client(), guesser.username, PASSWORD).status_code == 302

    _fail(client, user.username, 1)
    response = _sign_in(Client(), user.username, PASSWORD, address=OTHER_ADDRESS)

    assert response.status_code == 429


def test_behind_the_proxy_failures_count_against_the_address_the_proxy_saw(
    client, user, limit, settings
):
    settings.BULKYARD_CLIENT_ADDRESS_FROM_PROXY = True
    proxy = "10.0.0.2"
    for n in range(limit):
        # Whatever the client puts left of it, the proxy appends what it saw.
        forwarded = f"198.51.100.{n + 1}, {ADDRESS}"
        _sign_in(client, f"nobody{n}", "wrong", address=proxy, HTTP_X_FORWARDED_FOR=forwarded)

    locked = _sign_in(
        Client(), user.username, PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR=ADDRESS
    )
    other = _sign_in(
        Client(), user.username, PASSWORD, address=proxy, HTTP_X_FORWARDED_FOR=OTHER_ADDRESS
    )

    assert locked.status_code == 429
    assert other.status_code == 302


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_the_asgi_server_answers_a_locked_out_sign_in_with_the_lockout_page(asgi_server, limit):
    import httpx

    user = UserFactory()
    with httpx.Client(base_url=asgi_server, timeout=30) as browser:
        browser.get("/accounts/login/")  # the CSRF cookie

        def sign_in(password: str) -> httpx.Response:
            form = {
                "username": user.username,
                "password": password,
                "csrfmiddlewaretoken": browser.cookies["csrftoken"],
            }
            return browser.post("/accounts/login/", data=form)

        failures = [sign_in("wrong-password").status_code for _ in range(limit)]
        response = sign_in(PASSWORD)

    assert failures == [200] * (limit - 1) + [429]
    assert response.status_code == 429
    assert "Signing in is paused" in response.text
    assert "sessionid" not in browser.cookies
