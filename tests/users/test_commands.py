import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def _admin_sign_in(client, username: str, password: str) -> int:
    """Sign in through the admin's login page, as staff do; its status code."""
    response = client.post("/admin/login/", {"username": username, "password": password})
    return response.status_code


def test_create_api_user_prints_a_token_that_authenticates(capsys, anon_client):
    call_command("create_api_user", "alice", "--token-only")
    token = capsys.readouterr().out.strip()

    anon_client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    response = anon_client.get("/api/v1/jobs/")

    assert response.status_code == 200
    assert Token.objects.get(user__username="alice").key == token


def test_create_api_user_twice_keeps_the_same_token(capsys):
    call_command("create_api_user", "bob", "--token-only")
    first = capsys.readouterr().out
    call_command("create_api_user", "bob", "--token-only")

    assert capsys.readouterr().out == first


def test_create_api_user_with_staff_and_password_can_use_the_admin(client):
    call_command("create_api_user", "root", "--staff", "--password", "long-pass-123")

    assert _admin_sign_in(client, "root", "long-pass-123") == 302
    assert client.get("/admin/bulkyard_jobs/job/").status_code == 200


def test_the_admin_never_shows_api_token_keys(client):
    call_command("create_api_user", "root2", "--staff", "--password", "long-pass-123")
    token = Token.objects.get(user__username="root2")
    _admin_sign_in(client, "root2", "long-pass-123")

    listing = client.get("/admin/bulkyard_users/maskedtoken/")
    # TokenAdmin looks tokens up by their user's id.
    detail = client.get(f"/admin/bulkyard_users/maskedtoken/{token.user_id}/change/")

    assert listing.status_code == detail.status_code == 200
    assert token.key[:4] in listing.content.decode()
    assert token.key not in listing.content.decode()
    assert token.key not in detail.content.decode()
