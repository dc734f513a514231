"""A real SMTP server for the tests: aiosmtpd on a free loopback port, in a
thread of the test process, recording what it accepts. Tests script its
answers: refuse a recipient (550), or answer 451 to a recipient's first N
messages."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


@dataclass
class ReceivedMessage:
    sender: str
    recipients: list[str]
    message: EmailMessage


@dataclass
class SmtpScript:
    refused: set[str] = field(default_factory=set)
    # recipient -> how many more times DATA is answered "451"
    temporary_failures: Counter[str] = field(default_factory=Counter)
    seconds_per_message: float = 0.0


class RecordingHandler:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[ReceivedMessage] = []
        self.script = SmtpScript()

    def reset(self) -> None:
        with self.lock:
            self.received = []
            self.script = SmtpScript()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address in self.script.refused:
            return f"550 5.1.1 <{address}>: Recipient address rejected: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.script.seconds_per_message:
            time.sleep(self.script.seconds_per_message)  # a slow server, on purpose
        with self.lock:
            recipient = envelope.rcpt_tos[0]
            if self.script.temporary_failures[recipient] > 0:
                self.script.temporary_failures[recipient] -= 1
                return "451 4.3.0 Temporary local problem, try again later"
            parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
            assert isinstance(parsed, EmailMessage)
            self.received.append(
                ReceivedMessage(envelope.mail_from, list(envelope.rcpt_tos), parsed)
            )
        return "250 Message accepted for delivery"

    def messages_to(self, recipient: str) -> list[EmailMessage]:
        with self.lock:
            return [m.message for m in self.received if recipient in m.recipients]

    def recipient_counts(self) -> Counter[str]:
        with self.lock:
            return Counter(r for m in self.received for r in m.recipients)


class SmtpServer:
    def __init__(self) -> None:
        self.handler = RecordingHandler()
        # aiosmtpd's controller checks readiness by connecting to its port, so
        # it needs a real one up front rather than 0.
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
