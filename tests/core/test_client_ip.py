"""Which address a request counts against, with and without the TLS proxy."""

import pytest
from django.test import RequestFactory

from bulkyard.core.client_ip import client_address


def _request(peer: str, forwarded: str | None = None):
    request = RequestFactory().get("/", REMOTE_ADDR=peer)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@pytest.fixture
def behind_proxy(settings) -> None:
    settings.BULKYARD_CLIENT_ADDRESS_FROM_PROXY = True


def test_the_connections_peer_is_the_client_by_default():
    assert client_address(_request("203.0.113.7")) == "203.0.113.7"


def test_x_forwarded_for_is_ignored_without_the_proxy_setting():
    assert client_address(_request("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


@pytest.mark.usefixtures("behind_proxy")
def test_behind_the_proxy_the_client_is_the_address_the_proxy_added_last():
    request = _request("10.0.0.2", "198.51.100.1, 192.0.2.5, 203.0.113.7")

    assert client_address(request) == "203.0.113.7"


@pytest.mark.usefixtures("behind_proxy")
@pytest.mark.parametrize("forwarded", [None, "", "not-an-address", "198.51.100.1, junk"])
def test_behind_the_proxy_an_unusable_header_leaves_the_peer(forwarded):
    assert client_address(_request("10.0.0.2", forwarded)) == "10.0.0.2"


def test_an_ipv6_client_counts_by_its_64_network():
    assert client_address(_request("2001:db8:1:2:aaaa:bbbb:cccc:dddd")) == "2001:db8:1:2::"


def test_an_ipv4_client_seen_over_ipv6_counts_by_its_ipv4_address():
    assert client_address(_request("::ffff:203.0.113.7")) == "203.0.113.7"


def test_a_request_without_an_address_has_none():
    assert client_address(_request("")) is None
