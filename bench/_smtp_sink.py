"""A minimal SMTP server for the email benchmark: accepts everything and writes
one line per accepted message (its recipients) to a log, so the bench can check
that every recipient got exactly one message.

    python bench/_smtp_sink.py --port 2525 --log accepted.txt
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, log_path: str) -> None:
        self.log = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.log.write(" ".join(envelope.rcpt_tos) + "\n")
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    sink = Sink(args.log)
    controller = Controller(sink, hostname="127.0.0.1", port=args.port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"listening on 127.0.0.1:{args.port}", flush=True)
    stop.wait()
    controller.stop()
    sink.log.close()


if __name__ == "__main__":
    main()
