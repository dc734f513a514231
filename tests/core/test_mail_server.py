"""The mail server check against real sockets: the tests' aiosmtpd server,
and a loopback port nothing listens on."""

import socket
import time

import pytest

from bulkyard.core import mail_server
from bulkyard.core.mail_server import MailServerState, mail_server_state


def test_a_listening_smtp_server_is_reachable(smtp_port):
    assert mail_server_state() == MailServerState.REACHABLE


def test_a_port_nobody_listens_on_is_unreachable(closed_smtp_port):
    assert mail_server_state() == MailServerState.UNREACHABLE


def test_a_host_nothing_answers_for_is_unreachable(settings):
    # A TEST-NET-1 address (RFC 5737): routed nowhere.
    settings.EMAIL_BACKEND = mail_server.SMTP_BACKEND
    settings.EMAIL_HOST, settings.EMAIL_PORT = "192.0.2.1", 25
    mail_server._cached = None

    state = mail_server_state()

    assert state == MailServerState.UNREACHABLE


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
    ],
)
def test_a_backend_without_a_server_is_not_used(closed_smtp_port, settings, backend):
    settings.EMAIL_BACKEND = backend

    assert mail_server_state() == MailServerState.NOT_USED


def test_an_answer_is_reused_for_a_while(closed_smtp_port):
    assert mail_server_state() == MailServerState.UNREACHABLE
    with socket.create_server(("127.0.0.1", closed_smtp_port)):
        assert mail_server_state() == MailServerState.UNREACHABLE
        assert mail_server_state(fresh=True) == MailServerState.REACHABLE


def test_an_answer_is_not_reused_for_another_address(closed_smtp_port, smtp_port):
    mail_server._cached = (
        time.monotonic(),
        ("127.0.0.1", closed_smtp_port),
        MailServerState.UNREACHABLE,
    )

    assert mail_server_state() == MailServerState.REACHABLE
