"""API token authentication: DRF's behaviour, with its query written out."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from bulkyard.users.authentication import TokenAuthentication, token_user

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_token_user_is_the_tokens_owner_loaded_whole(user):
    token = Token.objects.create(user=user)

    found = token_user(token.key)

    assert found == user
    assert found is not None
    assert found.get_deferred_fields() == set()
    assert (found.username, found.email, found.date_joined) == (
        user.username,
        user.email,
        user.date_joined,
    )


def test_an_unknown_token_has_no_user():
    assert token_user("0" * 40) is None


def test_a_valid_token_authenticates_its_user(user):
    token = Token.objects.create(user=user)

    authenticated, auth = TokenAuthentication().authenticate_credentials(token.key)

    assert authenticated == user
    assert auth.key == token.key
    assert auth.user == user
    # Loaded on demand: nothing reads it on the way, so the query leaves it out.
    assert auth.created == token.created


def test_an_unknown_token_is_refused_as_drf_refuses_it(user):
    response = _client("0" * 40).get("/api/v1/jobs/")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid token."


def test_an_inactive_users_token_is_refused_as_drf_refuses_it(user):
    token = Token.objects.create(user=user)
    user.is_active = False
    user.save()

    response = _client(token.key).get("/api/v1/jobs/")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User inactive or deleted."


def test_a_token_after_bearer_authenticates_its_user(user):
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")

    response = client.get("/api/v1/jobs/")

    assert response.status_code == 200


def test_another_scheme_is_not_taken_for_a_token(user):
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token.key}")

    response = client.get("/api/v1/jobs/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_a_bearer_that_is_no_api_token_is_left_unauthenticated():
    """Not refused as invalid: other credentials come as Bearer too (the
    metrics scraper's), and the view's own checks decide."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer " + "0" * 40)

    response = client.get("/api/v1/jobs/")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"


def test_an_inactive_users_token_after_bearer_is_refused(user):
    token = Token.objects.create(user=user)
    user.is_active = False
    user.save()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")

    response = client.get("/api/v1/jobs/")

    assert response.status_code == 401
    assert response.json()["error"]["message"] == "User inactive or deleted."
