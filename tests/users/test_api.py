import pytest

from bulkyard.users.tickets import ws_ticket_redeem

pytestmark = pytest.mark.django_db


def test_ws_ticket_names_the_user_and_is_single_use(api_client, user):
    response = api_client.post("/api/v1/ws-ticket/")

    assert response.status_code == 201
    ticket = response.json()["ticket"]
    assert response.json()["expires_in"] == 60
    assert ws_ticket_redeem(ticket) == user
    assert ws_ticket_redeem(ticket) is None


def test_ws_ticket_expires(api_client, settings):
    ticket = api_client.post("/api/v1/ws-ticket/").json()["ticket"]
    settings.BULKYARD_WS_TICKET_SECONDS = -1

    assert ws_ticket_redeem(ticket) is None


def test_ws_ticket_needs_authentication(anon_client):
    assert anon_client.post("/api/v1/ws-ticket/").status_code == 401
