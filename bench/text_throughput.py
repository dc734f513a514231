"""Throughput of ``text.process``: documents/second through clean + analyse + redact, end
to end, against the same pipeline run in one plain Python process.

What is measured (one run, one machine)
    1. End to end, N documents (default 100,000) of about 2 KB each (generated, seeded:
       English-like sentences, one in ten documents HTML, personal data sprinkled in:
       emails, international phone numbers, IBANs, card numbers, IP addresses): from
       starting the multipart ``POST /api/v1/jobs/`` (``kind=text.process``, a CSV
       ``id,text``, steps clean + redact + analyse with language detection and 10
       keywords by TF-IDF, ``chunk_size`` 2,000) until the job's WebSocket reports its
       end, through uvicorn and a real Celery worker (prefork, ``--concurrency`` pool
       processes, default 2) on the CPU queue. Both passes run: the first processes the
       documents and counts document frequencies, the second ranks each document's
       keywords. The job must succeed with N documents.
    2. The same pipeline in one plain Python process: read the same CSV, run the same
       ``Pipeline`` on each document, count document frequencies, rank each document's
       keywords, write one JSON line per document to a file. Run once before the job
       and once after it (the machine's speed drifts over minutes); its rate is both
       runs' documents over both runs' time.
    Prints both rates, the ratio against the target (>= 1.8x on 2 cores) and
    CPU time of the worker and PostgreSQL; exit status 0 whatever the verdict.

Set-up and tear-down are ``_support``'s, shared by every bench. Run from the repository
root::

    .venv/bin/python bench/text_throughput.py [--documents N] [--concurrency N]
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _support import (
    MB,
    RssSampler,
    api_and_worker,
    postmaster_pid,
    print_checks,
    print_summary,
    print_timeline,
    python_stdout,
    ratio_check,
    scratch_and_database,
    service_env,
    submit_file_and_wait,
    tree_cpu_seconds,
)

TARGET_RATIO = 1.8
PARAMS = {
    "text_field": "text",
    "id_field": "id",
    "steps": ["clean", "redact", "analyse"],
    "analyse": {"language": True, "keywords": 10},
}

WORDS = (  # noqa: SIM905 - reads better as prose
    "the of and to in is for on that with as by this from at are be or an it which "
    "was shipment invoice customer order delivery warehouse payment refund account "
    "service contract garden kitchen bicycle river report annual committee quality "
    "battery module sensor network storage printer ticket support release feature "
    "migration database schedule meeting budget forecast supplier inventory pallet "
    "container freight harbour engine turbine solar panel wind farm grid voltage "
    "current circuit board firmware"
).split()

PLAIN_PIPELINE = """
import csv, json, sys, time
import django
django.setup()
from collections import Counter
from bulkyard.text import keywords
from bulkyard.text.params import TextProcessParams

params = TextProcessParams.model_validate(json.loads(sys.argv[3]))
pipeline = params.pipeline()
csv.field_size_limit(10_000_000)
started = time.perf_counter()
documents, frequencies = [], Counter()
with open(sys.argv[1], newline="", encoding="utf-8") as source:
    for row in csv.DictReader(source):
        result = pipeline.run(row["text"])
        output = {"id": row["id"], **result.output, "text": result.text}
        frequencies.update(result.terms.keys())
        documents.append((output, result.terms))
weights = keywords.weights(frequencies, frequencies, len(documents))
with open(sys.argv[2], "w", encoding="utf-8") as out:
    for output, terms in documents:
        ranked = keywords.top(terms, weights, params.analyse.keywords)
        output["keywords"] = [term for term, _ in ranked]
        out.write(json.dumps(output, ensure_ascii=False) + "\\n")
print(len(documents), time.perf_counter() - started)
"""


def plain_run(documents: Path, count: int, scratch: Path, env: dict[str, str]) -> float:
    """Seconds the plain pipeline takes over all ``count`` documents, in its own
    process (printed with its rate)."""
    output = python_stdout(
        PLAIN_PIPELINE, str(documents), str(scratch / "plain.jsonl"), json.dumps(PARAMS), env=env
    )
    done, elapsed = output.split()
    if int(done) != count:
        raise RuntimeError(f"the plain loop processed {done} of {count} documents")
    seconds = float(elapsed)
    print(f"  {seconds:.1f} s -> {count / seconds:,.0f} documents/s")
    return seconds


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--chunk-size", type=int, default=2_000)
    parser.add_argument("--concurrency", type=int, default=2, help="worker pool processes")
    parser.add_argument("--keep", action="store_true", help="keep the database and folder")
    return parser.parse_args(argv)


def document(rng: random.Random, number: int) -> str:
    sentences: list[str] = []
    while sum(len(s) for s in sentences) < 1900:
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
        roll = rng.random()
        if roll < 0.05:
            words.append(f"contact{number}@example.com")
        elif roll < 0.08:
            words.append(f"+44 20 7946 {rng.randint(0, 9999):04d}")
        elif roll < 0.09:
            words.append("GB82 WEST 1234 5698 7654 32")
        elif roll < 0.10:
            words.append("4111 1111 1111 1111")
        elif roll < 0.11:
            words.append(f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}")
        sentences.append(" ".join(words).capitalize() + ".")
    text = " ".join(sentences)
    if number % 10 == 0:
        text = (
            "<html><body><h1>Report</h1><p>" + text.replace(". ", ".</p><p>") + "</p></body></html>"
        )
    return text


def write_documents(path: Path, count: int) -> None:
    rng = random.Random(7)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "text"])
        for number in range(count):
            writer.writerow([f"doc-{number}", document(rng, number)])


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print("Bench: text.process throughput (documents/s) against one plain Python process.")
    with scratch_and_database("bulkyard-bench-text-", keep=args.keep) as scratch:
        documents = scratch / "documents.csv"
        write_documents(documents, args.documents)
        size = documents.stat().st_size
        each = size / args.documents
        print(f"{args.documents:,} documents, {size / 1e6:.0f} MB ({each:,.0f} B each)")
        env = service_env(scratch, size)
        # The plain loop runs once before the job and once after it: the
        # machine's speed drifts by several per cent over minutes, and the
        # ratio should not depend on which side the drift fell.
        print(f"\nOne plain Python process, the same pipeline on the same {args.documents:,} ...")
        plain_timings = [plain_run(documents, args.documents, scratch, env)]
        with api_and_worker(env, scratch, concurrency=args.concurrency) as (client, worker):
            print(f"\nEnd to end, {args.documents:,} documents ...")
            postgres = postmaster_pid()
            worker_before = tree_cpu_seconds(worker.pid)
            pg_before = tree_cpu_seconds(postgres)
            with RssSampler(worker.pid) as sampler:
                seconds, job = submit_file_and_wait(
                    client,
                    documents,
                    kind="text.process",
                    params=PARAMS,
                    chunk_size=args.chunk_size,
                )
            worker_cpu = tree_cpu_seconds(worker.pid) - worker_before
            pg_cpu = tree_cpu_seconds(postgres) - pg_before
        if job["status"] != "succeeded" or job["succeeded_items"] != args.documents:
            raise RuntimeError(f"the job ended {job['status']}: {str(job)[:2000]}")
        rate = args.documents / seconds
        print(f"  {seconds:.1f} s -> {rate:,.0f} documents/s")
        print_timeline(job["id"], seconds, processes=args.concurrency)
        print(
            f"  CPU per document: worker {worker_cpu / args.documents * 1000:.2f} ms, "
            f"PostgreSQL {pg_cpu / args.documents * 1000:.2f} ms"
        )
        print(f"  worker peak RSS: {sampler.peaks.max_process / MB:.0f} MB per pool process")
        print(
            f"  summary: languages {job['summary']['languages']}, "
            f"keywords {job['summary']['keywords'][:5]}"
        )

        print("\nThe plain process again, after the job ...")
        plain_timings.append(plain_run(documents, args.documents, scratch, env))
        plain_rate = args.documents * len(plain_timings) / sum(plain_timings)
        print(f"  both runs: {plain_rate:,.0f} documents/s")

        ratio = rate / plain_rate
        print_summary(
            f"Summary ({args.documents:,} documents, chunk_size {args.chunk_size})",
            [
                ("text.process end to end", rate, "documents/s"),
                ("one plain Python process (before and after)", plain_rate, "documents/s"),
            ],
        )
        print_checks([ratio_check("end to end / plain process", ratio, TARGET_RATIO)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
