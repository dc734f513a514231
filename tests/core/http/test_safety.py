"""Destination rules, without the network."""

import asyncio
import ipaddress
import socket

import pytest

from bulkyard.core.http.safety import (
    GuardedResolver,
    InvalidURL,
    Refused,
    allowed_results,
    blocked_reason,
    check_url,
    parse_allow_entry,
)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "::1",
        "0.0.0.0",  # noqa: S104 - a destination, not a bind address
        "::",
        "10.0.0.1",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "169.254.169.254",
        "fe80::1",
        "fc00::1",
        "100.64.0.1",
        "224.0.0.1",
        "239.255.255.250",
        "ff02::1",
        "240.0.0.1",
        "255.255.255.255",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "192.0.2.1",  # documentation
    ],
)
def test_internal_and_special_addresses_are_blocked(address):
    assert blocked_reason(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_not_blocked(address):
    assert blocked_reason(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://example.com/", InvalidURL),
        ("file:///etc/passwd", InvalidURL),
        ("http://user:pw@example.com/", InvalidURL),
        ("http:///nohost", InvalidURL),
        ("http://127.0.0.1/", Refused),
        ("http://[::ffff:127.0.0.1]/", Refused),
        ("http://2130706433/", Refused),
        ("http://0x7f.1/", Refused),
        ("http://0177.0.0.1/", Refused),
        ("http://169.254.169.254/latest/", Refused),
    ],
)
def test_check_url_refuses(url, error):
    with pytest.raises(error):
        check_url(url)


def test_an_odd_spelling_of_a_public_address_is_asked_to_be_written_plainly():
    with pytest.raises(InvalidURL, match=r"as 8\.8\.8\.8"):
        check_url("http://134744072/")


def test_an_allow_listed_host_and_port_is_let_through_and_only_that_port(settings):
    settings.BULKYARD_HTTP_ALLOWED_HOSTS = ["127.0.0.1:8080"]

    assert check_url("http://127.0.0.1:8080/x").port == 8080
    with pytest.raises(Refused):
        check_url("http://127.0.0.1:8081/x")


@pytest.mark.parametrize(
    ("entry", "host", "address", "port", "allowed"),
    [
        ("10.1.0.0/16", "db", "10.1.2.3", 443, True),
        ("10.1.0.0/16", "db", "10.2.0.1", 443, False),
        ("[fd00::1]:8080", "x", "fd00::1", 8080, True),
        ("[fd00::1]:8080", "x", "fd00::1", 80, False),
        ("Internal.Example", "internal.example", "10.0.0.5", 80, True),
        ("internal.example:443", "internal.example", "10.0.0.5", 80, False),
    ],
)
def test_allow_entries(entry, host, address, port, allowed):
    rule = parse_allow_entry(entry)

    assert rule.allows(host=host, address=ipaddress.ip_address(address), port=port) is allowed


def test_the_resolver_refuses_a_name_that_resolves_to_loopback():
    async def resolve() -> object:
        return await GuardedResolver().resolve("localhost", 80, socket.AF_INET)

    with pytest.raises(Refused, match="loopback"):
        asyncio.run(resolve())


def test_of_a_names_addresses_only_the_allowed_ones_are_connected_to():
    results = [
        {"hostname": "x", "host": "10.0.0.1", "port": 80, "family": 2, "proto": 6, "flags": 0},
        {"hostname": "x", "host": "8.8.8.8", "port": 80, "family": 2, "proto": 6, "flags": 0},
    ]

    assert [r["host"] for r in allowed_results("x", 80, results)] == ["8.8.8.8"]
