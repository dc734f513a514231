"""Throughput of ``email.send``: messages/second to a local SMTP sink, end to end, against
a naive loop of ``django.core.mail.send_mail`` (one connection per message).

What is measured (one run, one machine)
    1. End to end, N messages (default 10,000): from starting the multipart
       ``POST /api/v1/jobs/`` (``kind=email.send``, a CSV of N recipients with two
       template variables, subject + text + HTML templates, ``chunk_size`` 500) until
       the job's WebSocket reports its end, through uvicorn and a
       real Celery worker (prefork, ``--concurrency`` pool processes, default 4: sending
       waits on the network). The job must succeed with N sent, and the sink must have
       accepted exactly one message per recipient.
    2. The naive loop: one process, Django set up on the same settings, for each of the
       first ``--naive`` recipients (default 2,000) render the same templates and call
       ``send_mail`` — a new SMTP connection per message, as code written without a bulk
       tool does.
    3. The sink's ceiling: four processes, each pushing a quarter of N copies of one
       prebuilt message over one smtplib connection (no Django, no templates, no ledger),
       the fastest any client can hand messages to this sink here. The naive ratio can
       be no better than ceiling / naive.
    The SMTP sink is aiosmtpd in its own process (bench/_smtp_sink.py), accepting every
    message and logging its recipient. The account rate limit is set far above what is
    reached (``BULKYARD_EMAIL_RATE_PER_SECOND`` = 1,000,000), so the limiter's cost is
    included, not its waiting. Prints the figures and the ratios against the targets
    (>= 10x the naive loop, >= 1,000 messages/s); exit status 0 whatever the
    verdicts (1 only when the bench itself breaks).

Set-up and tear-down are ``_support``'s, shared by every bench (throwaway database
``bulkyard_bench``, Redis db 14, a scratch folder, uvicorn); all removed at the end unless
``--keep``. Run from the repository root::

    .venv/bin/python bench/email_throughput.py [--messages N] [--naive N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    PYTHON,
    api_and_worker,
    free_port,
    print_checks,
    print_summary,
    python_stdout,
    rate_check,
    ratio_check,
    scratch_and_database,
    service_env,
    start_peer,
    stop_process_group,
    submit_file_and_wait,
    tree_cpu_seconds,
)

TARGET_NAIVE_RATIO = 10.0
TARGET_RATE = 1000.0
SUBJECT = "Your order {{ order }}"
TEXT = "Hello {{ name }},\n\nyour order {{ order }} has shipped.\n\n-- The shop"
HTML = "<p>Hello {{ name }},</p><p>your order <b>{{ order }}</b> has shipped.</p>"
FROM = "Shop <shop@example.com>"

NAIVE_LOOP = """
import csv, sys, time
import django
django.setup()
from django.core.mail import send_mail
from django.template import Context, Template

subject, text, html = Template(sys.argv[2]), Template(sys.argv[3]), Template(sys.argv[4])
with open(sys.argv[1], newline="") as source:
    rows = list(csv.DictReader(source))[: int(sys.argv[5])]
started = time.perf_counter()
for row in rows:
    context = Context(row)
    send_mail(
        subject.render(context), text.render(context), sys.argv[6], [row["email"]],
        html_message=html.render(context),
    )
print(len(rows), time.perf_counter() - started)
"""


# The sink's ceiling: the cheapest client there is (no templates, no ledger, no
# MIME building: the same prebuilt message each time, smtplib on one connection).
CEILING_CLIENT = """
import smtplib, sys
port, count, first = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
head = b"Subject: x\\r\\nFrom: shop@example.com\\r\\n\\r\\n"
body = head + b"Hello, your order has shipped.\\r\\n" * 8
with smtplib.SMTP("127.0.0.1", port) as smtp:
    for number in range(first, first + count):
        smtp.sendmail("shop@example.com", [f"ceiling{number}@example.com"], body)
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--messages", type=int, default=10_000, help="recipients of the job")
    parser.add_argument("--naive", type=int, default=2_000, help="messages of the naive loop")
    parser.add_argument("--chunk-size", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=4, help="worker pool processes")
    parser.add_argument("--keep", action="store_true", help="keep the database and folder")
    return parser.parse_args(argv)


CEILING_CONNECTIONS = 4


def sink_ceiling(port: int, messages: int) -> float:
    """Seconds for the sink to accept ``messages`` from the cheapest clients."""
    share = messages // CEILING_CONNECTIONS
    started = time.perf_counter()
    clients = [
        subprocess.Popen([PYTHON, "-c", CEILING_CLIENT, str(port), str(share), str(n * share)])
        for n in range(CEILING_CONNECTIONS)
    ]
    if any(client.wait() for client in clients):
        raise RuntimeError("a ceiling client failed")
    return (time.perf_counter() - started) * messages / (share * CEILING_CONNECTIONS)


def write_recipients(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("email,name,order\n")
        for number in range(count):
            out.write(f"customer{number}@example.com,Customer {number},A-{number:06d}\n")


def accepted(log: Path) -> Counter[str]:
    if not log.exists():
        return Counter()
    return Counter(word for line in log.read_text().splitlines() for word in line.split())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("Bench: email.send throughput (messages/s) against a naive send_mail loop.")
    with scratch_and_database("bulkyard-bench-email-", keep=args.keep) as scratch:
        recipients = scratch / "recipients.csv"
        write_recipients(recipients, args.messages)
        port = free_port()
        env = {
            **service_env(scratch, recipients.stat().st_size),
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(port),
            "BULKYARD_EMAIL_RATE_PER_SECOND": "1000000",
        }
        rate = run_job(args, env, scratch, recipients, port)

        print(f"\nNaive loop, {args.naive:,} messages (send_mail, one connection each) ...")
        sink = start_sink(port, scratch / "accepted-naive.txt")
        try:
            naive = [str(recipients), SUBJECT, TEXT, HTML, str(args.naive), FROM]
            sent, naive_seconds = python_stdout(NAIVE_LOOP, *naive, env=env).split()
            naive_rate = int(sent) / float(naive_seconds)
            print(f"  {float(naive_seconds):.2f} s -> {naive_rate:,.0f} messages/s")
            print(
                f"\nSink ceiling: {args.messages:,} prebuilt messages, {CEILING_CONNECTIONS} "
                "connections, no Django ..."
            )
            ceiling_seconds = sink_ceiling(port, args.messages)
        finally:
            stop_process_group(sink, timeout=10)
        ceiling = args.messages / ceiling_seconds
        print(f"  {ceiling_seconds:.2f} s -> {ceiling:,.0f} messages/s")

        ratio = rate / naive_rate
        print_summary(
            f"Summary ({args.messages:,} messages, chunk_size {args.chunk_size})",
            [
                ("email.send end to end", rate, "messages/s"),
                ("naive send_mail loop", naive_rate, "messages/s"),
                ("sink ceiling (prebuilt bytes, no Django)", ceiling, "messages/s"),
            ],
        )
        print(
            f"  -> the sink accepts at most {ceiling / naive_rate:.1f}x the naive loop's rate "
            "on this machine\n"
        )
        print_checks(
            [
                ratio_check("end to end / naive loop", ratio, TARGET_NAIVE_RATIO, digits=1),
                rate_check(rate, TARGET_RATE),
            ]
        )
    return 0


def start_sink(port: int, log: Path) -> subprocess.Popen[bytes]:
    return start_peer("bench/_smtp_sink.py", "--port", str(port), "--log", str(log))


def run_job(
    args: argparse.Namespace, env: dict[str, str], scratch: Path, recipients: Path, port: int
) -> float:
    """Messages/s of the job end to end; the sink must get each recipient once."""
    job_log = scratch / "accepted-job.txt"
    sink = start_sink(port, job_log)
    try:
        with api_and_worker(env, scratch, concurrency=args.concurrency) as (client, worker):
            print(f"\nEnd to end, {args.messages:,} messages ...")
            cpu_before = {
                "worker": tree_cpu_seconds(worker.pid),
                "sink": tree_cpu_seconds(sink.pid),
            }
            seconds, job = submit_file_and_wait(
                client,
                recipients,
                kind="email.send",
                params={"subject": SUBJECT, "text": TEXT, "html": HTML, "from_email": FROM},
                chunk_size=args.chunk_size,
            )
            cpu = {
                "worker": tree_cpu_seconds(worker.pid) - cpu_before["worker"],
                "SMTP sink (aiosmtpd)": tree_cpu_seconds(sink.pid) - cpu_before["sink"],
            }
        time.sleep(0.5)  # the sink's last lines
    finally:
        stop_process_group(sink, timeout=10)
    counts = accepted(job_log)
    if job["status"] != "succeeded" or job["succeeded_items"] != args.messages:
        raise RuntimeError(f"the job ended {job['status']}: {job}")
    if len(counts) != args.messages or max(counts.values()) != 1:
        raise RuntimeError(
            f"the sink accepted {sum(counts.values())} messages for {len(counts)} "
            f"recipients (expected {args.messages} once each)"
        )
    rate = args.messages / seconds
    print(f"  {seconds:.2f} s -> {rate:,.0f} messages/s; the sink got each recipient once")
    per_message = ", ".join(
        f"{name} {used / args.messages * 1000:.2f} ms" for name, used in cpu.items()
    )
    print(f"  CPU per message (2 cores): {per_message}")
    return rate


if __name__ == "__main__":
    sys.exit(main())
