"""Scale-out: throughput of one import and one text job with 1, 2 and 4 worker
processes, on local storage and on object storage, and what the measured costs
predict for more cores.

What is measured (one run, one machine)
    For each storage (``--storage``, default ``local,s3``) and each number of workers
    (``--workers``, default ``1,2,4``), two jobs, one after the other, through uvicorn
    and N separate ``celery worker`` processes, each with one pool process
    (``--concurrency 1``) and its own node name, as N hosts of one core would run:
      - ``data.import`` of ``--rows`` contacts (1,000,000; ``bulkyard.data.samples``,
        the file of ``import_throughput.py``) into an empty table, chunks of
        ``--import-chunk-size`` (25,000);
      - ``text.process`` of ``--documents`` documents (50,000; the documents, steps and
        parameters of ``text_throughput.py``), chunks of ``--text-chunk-size`` (2,000).
    Each job is timed from the start of its multipart POST until its WebSocket pushes
    ``job.finished`` (``_support.submit_file_and_wait``), and must succeed with every
    item. Also measured per job: the CPU seconds of the worker processes and of the
    PostgreSQL backends of the bench database (``/proc``), the upload, planning and
    finish steps and the chunks' run times (the job and chunk rows).

    Object storage is moto's S3 server (``tests/support/s3.py``), started by the bench on
    a free port: an in-memory Python server on the same 2 cores, so its figures are a
    lower bound of what MinIO or S3 give. With it, the web process and every worker have
    a media root and var folder of their own, as on hosts that share no disk; with local
    storage they share one, as processes of one host do.

    Printed: a table (storage, workers, job, seconds, items/s, speed-up over 1 worker,
    efficiency per worker); the per-item costs of the 1-worker run (worker CPU,
    PostgreSQL CPU, the serial steps) and a prediction from them for 1 to 32 workers
    on hosts of their own: Amdahl's law over the serial steps, capped by the PostgreSQL
    cores the backends' CPU per item needs. A PNG chart of the rates and the prediction
    is written to ``--chart`` (``docs/performance/scale-out.png``; needs matplotlib, the
    ``bench`` extra).

Set-up and tear-down are ``_support``'s (throwaway database ``bulkyard_bench``, Redis
db 14, a scratch folder). Run from the repository root::

    .venv/bin/python bench/scale_out.py [--rows N] [--documents N] [--workers 1,2,4]
        [--storage local,s3] [--chart PATH] [--keep]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
# The repository root too: moto's server is started as the tests start it.
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))

from _support import (
    REPO_ROOT,
    backends_cpu_since,
    bench_user,
    celery_worker,
    connect,
    contacts_size_estimate,
    database_backends_cpu,
    descendants,
    scratch_and_database,
    service_env,
    submit_file_and_wait,
    tree_cpu_seconds,
    uvicorn_server,
    wait_for_worker,
    write_contacts,
)
from text_throughput import PARAMS as TEXT_PARAMS
from text_throughput import write_documents

from tests.support import s3, servers

SEED = 20_250_101  # import_throughput.py's file
TABLE = "bulkyard_data_contact"
STORAGES = ("local", "s3")
JOBS = ("import", "text")
PREDICTED_WORKERS = (1, 2, 4, 8, 16, 32)
DEFAULT_CHART = REPO_ROOT / "docs" / "performance" / "scale-out.png"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="import rows (1000000)")
    parser.add_argument("--documents", type=int, default=50_000, help="text documents (50000)")
    parser.add_argument("--workers", default="1,2,4", help="worker processes per run (1,2,4)")
    parser.add_argument("--storage", default="local,s3", help="local, s3 or both (local,s3)")
    parser.add_argument("--import-chunk-size", type=int, default=25_000)
    parser.add_argument("--text-chunk-size", type=int, default=2_000)
    parser.add_argument("--chart", type=Path, default=DEFAULT_CHART, help="PNG to write")
    parser.add_argument("--keep", action="store_true", help="keep the database and scratch")
    parser.add_argument("--save", type=Path, help="write the runs' figures to this JSON file")
    parser.add_argument(
        "--include",
        type=Path,
        action="append",
        default=[],
        help="report the runs of an earlier --save too (another storage, say); repeatable",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="run nothing: report the --include files"
    )
    args = parser.parse_args(argv)
    try:
        args.workers = sorted({int(word) for word in args.workers.split(",")})
    except ValueError:
        parser.error("--workers is a comma-separated list of numbers, like 1,2,4")
    if args.workers[0] < 1:
        parser.error("--workers must be at least 1")
    args.storage = [word.strip() for word in args.storage.split(",")]
    if not set(args.storage) <= set(STORAGES):
        parser.error(f"--storage takes {', '.join(STORAGES)}")
    if args.rows < 1 or args.documents < 1:
        parser.error("--rows and --documents must be at least 1")
    return args


# --- One run: N workers on one storage ---------------------------------------------------


@dataclass(slots=True)
class Run:
    storage: str
    workers: int
    job: str
    items: int
    seconds: float
    worker_cpu: float
    postgres_cpu: float
    # From the job and chunk rows: the upload (POST until the job row),
    # planning, the steps between passes, finishing, and the chunks.
    upload: float
    planning: float
    between_passes: float
    finish: float
    chunk_busy: float
    chunks: int
    # CPU of the S3 server (moto, on the same cores); 0 on local storage.
    store_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.items / self.seconds

    @property
    def serial(self) -> float:
        """Seconds no added worker shortens: one process does each of these steps."""
        return self.upload + self.planning + self.between_passes + self.finish


PASSES_SQL = """
SELECT min(started_at), max(finished_at),
       sum(extract(epoch FROM finished_at - started_at)), count(*)
FROM bulkyard_jobs_chunk WHERE job_id = %s GROUP BY pass_number ORDER BY pass_number
"""


def job_steps(job_id: str, seconds: float) -> dict[str, float]:
    """Where a job's ``seconds`` (as the client measured them) went, from the job
    and chunk rows: upload, planning, the steps between passes, finish, and the
    chunks' summed run time and count."""
    with connect() as conn:
        row = conn.execute(
            "SELECT created_at, finished_at FROM bulkyard_jobs_job WHERE id = %s", [job_id]
        ).fetchone()
        passes = conn.execute(PASSES_SQL, [job_id]).fetchall()
    assert row is not None
    assert passes, f"job {job_id} has no chunks"
    created, finished = row
    between = sum(
        (start - previous_end).total_seconds()
        for (_, previous_end, _, _), (start, _, _, _) in itertools.pairwise(passes)
    )
    return {
        "upload": seconds - (finished - created).total_seconds(),
        "planning": (passes[0][0] - created).total_seconds(),
        "between_passes": between,
        "finish": (finished - passes[-1][1]).total_seconds(),
        "chunk_busy": sum(float(busy) for _, _, busy, _ in passes),
        "chunks": sum(int(count) for _, _, _, count in passes),
    }


def reset_table() -> None:
    with connect() as conn:
        conn.execute(f"TRUNCATE {TABLE}")
        conn.execute("CHECKPOINT")


def run_job(
    client: httpx.Client,
    workers: list[int],
    *,
    storage: str,
    job: str,
    path: Path,
    items: int,
    chunk_size: int,
    store_pid: int | None,
) -> Run:
    params: dict[str, Any] = {"target": "contacts"}
    if job == "import":
        reset_table()
        kind = "data.import"
    else:
        kind, params = "text.process", TEXT_PARAMS
    cpu_before = sum(tree_cpu_seconds(pid) for pid in workers)
    store_before = tree_cpu_seconds(store_pid) if store_pid else 0.0
    backends_before = database_backends_cpu()
    seconds, result = submit_file_and_wait(
        client, path, kind=kind, params=params, chunk_size=chunk_size
    )
    worker_cpu = sum(tree_cpu_seconds(pid) for pid in workers) - cpu_before
    postgres_cpu = backends_cpu_since(backends_before)
    store_cpu = tree_cpu_seconds(store_pid) - store_before if store_pid else 0.0
    if result["status"] != "succeeded" or result["succeeded_items"] != items:
        raise RuntimeError(f"{kind} ended {result['status']}: {str(result)[:2000]}")
    steps = job_steps(result["id"], seconds)
    run = Run(
        storage=storage,
        workers=len(workers),
        job=job,
        items=items,
        seconds=seconds,
        worker_cpu=worker_cpu,
        postgres_cpu=postgres_cpu,
        upload=steps["upload"],
        planning=steps["planning"],
        between_passes=steps["between_passes"],
        finish=steps["finish"],
        chunk_busy=steps["chunk_busy"],
        chunks=int(steps["chunks"]),
        store_cpu=store_cpu,
    )
    print(
        f"  {storage:<5s} {run.workers} worker(s) {job:<6s} {seconds:7.1f} s "
        f"{run.rate:9,.0f} items/s  ({run.chunks} chunks; worker CPU {worker_cpu:.0f} s, "
        f"PostgreSQL CPU {postgres_cpu:.0f} s)"
    )
    return run


@contextmanager
def workers_running(
    env: dict[str, str], scratch: Path, base_url: str, count: int, *, own_folders: bool
) -> Iterator[list[int]]:
    """``count`` Celery workers of one pool process each, answering; their pids.
    With ``own_folders`` each has a media root and var folder of its own."""
    with ExitStack() as stack:
        procs = []
        for number in range(1, count + 1):
            worker_env = dict(env)
            if own_folders:
                worker_env.update(host_folders(scratch, f"worker-{number}"))
            log = scratch / f"worker-{count}-{number}.log"
            proc = stack.enter_context(
                celery_worker(worker_env, log, concurrency=1, name=f"scale{number}")
            )
            procs.append((proc, log))
        for proc, log in procs:
            wait_for_worker(base_url, proc, log)
        # /health/ is satisfied by any one worker: wait until each has forked
        # its pool process, after which it takes work.
        deadline = time.monotonic() + 60
        while not all(descendants(proc.pid) for proc, _ in procs):
            if time.monotonic() > deadline:
                raise RuntimeError("a worker did not start its pool process within 60 s")
            time.sleep(0.2)
        yield [proc.pid for proc, _ in procs]


def host_folders(scratch: Path, host: str) -> dict[str, str]:
    """A media root and var folder of the host's own (none is shared)."""
    root = scratch / "hosts" / host
    (root / "media").mkdir(parents=True, exist_ok=True)
    return {"DJANGO_MEDIA_ROOT": str(root / "media"), "BULKYARD_VAR_DIR": str(root / "var")}


@contextmanager
def storage_env(
    storage: str, env: dict[str, str], scratch: Path
) -> Iterator[tuple[dict[str, str], int | None]]:
    """The services' environment for ``storage``, and the pid of its S3 server:
    for ``s3`` a moto server runs meanwhile."""
    if storage == "local":
        yield env, None
        return
    server = s3.start(scratch / "moto.log")
    try:
        print(f"moto S3 server at {server.endpoint_url} (in-memory, Python: a lower bound)")
        assert server.proc is not None
        yield (
            {**env, **server.settings("scale-out")},
            server.proc.pid,
        )
    finally:
        assert server.proc is not None
        servers.stop(server.proc)


def run_storage(
    storage: str, env: dict[str, str], scratch: Path, files: dict[str, Path], args: Any
) -> list[Run]:
    runs: list[Run] = []
    sizes = {
        "import": (args.rows, args.import_chunk_size),
        "text": (args.documents, args.text_chunk_size),
    }
    with storage_env(storage, env, scratch) as (env, store_pid):
        own = storage == "s3"
        web_env = {**env, **host_folders(scratch, "web")} if own else env
        with uvicorn_server(web_env, scratch / f"uvicorn-{storage}.log") as base_url:
            headers = {"Authorization": f"Token {args.token}"}
            with httpx.Client(base_url=base_url, headers=headers, timeout=600) as client:
                for count in args.workers:
                    print(f"\n{storage}: {count} worker process(es), one pool process each")
                    with workers_running(env, scratch, base_url, count, own_folders=own) as pids:
                        for job in JOBS:
                            items, chunk_size = sizes[job]
                            runs.append(
                                run_job(
                                    client,
                                    pids,
                                    storage=storage,
                                    job=job,
                                    path=files[job],
                                    items=items,
                                    chunk_size=chunk_size,
                                    store_pid=store_pid,
                                )
                            )
    return runs


# --- Report ------------------------------------------------------------------------------


def baseline(runs: list[Run], run: Run) -> Run | None:
    """The 1-worker run of the same storage and job (the smallest count measured)."""
    same = [r for r in runs if r.storage == run.storage and r.job == run.job]
    return min(same, key=lambda r: r.workers) if same else None


def print_table(runs: list[Run]) -> None:
    print(
        f"\n  {'storage':<8s} {'workers':>7s} {'job':<7s} {'seconds':>8s} {'items/s':>9s} "
        f"{'speed-up':>9s} {'per worker':>10s}"
    )
    for run in runs:
        first = baseline(runs, run)
        assert first is not None
        speed_up = run.rate / first.rate
        efficiency = speed_up / (run.workers / first.workers)
        print(
            f"  {run.storage:<8s} {run.workers:>7d} {run.job:<7s} {run.seconds:8.1f} "
            f"{run.rate:9,.0f} {speed_up:8.2f}x {efficiency:10.0%}"
        )


@dataclass(frozen=True, slots=True)
class Model:
    """What the 1-worker run of a job predicts: Amdahl's law over its serial
    seconds, and PostgreSQL's cores as a ceiling."""

    run: Run

    def seconds(self, workers: int, postgres_cores: float) -> float:
        # What is not serial was the chunks (and the claims between them),
        # which the workers share.
        parallel = (self.run.seconds - self.run.serial) * self.run.workers
        # No more workers busy than the job has chunks (a loose cap: a job of
        # two passes has fewer in each).
        amdahl = self.run.serial + parallel / min(workers, self.run.chunks)
        # PostgreSQL must do all of the backends' work on the cores it has.
        return max(amdahl, self.run.postgres_cpu / postgres_cores)

    def rate(self, workers: int, postgres_cores: float) -> float:
        return self.run.items / self.seconds(workers, postgres_cores)

    def machine_ceiling(self, cores: int) -> float:
        """items/s if ``cores`` did nothing but this job's CPU work, worker's
        PostgreSQL's and the S3 server's: what more workers on this machine
        cannot pass."""
        cpu = self.run.worker_cpu + self.run.postgres_cpu + self.run.store_cpu
        return self.run.items * cores / cpu


def print_costs(runs: list[Run]) -> list[Model]:
    print("\nPer-item costs, from the 1-worker runs (CPU from /proc, steps from the job rows):")
    models = []
    for run in runs:
        if run.workers != min(r.workers for r in runs if r.storage == run.storage):
            continue
        per = 1e6 / run.items
        share = run.postgres_cpu / (run.postgres_cpu + run.worker_cpu)
        store = f"S3 server {run.store_cpu * per:.1f} us, " if run.store_cpu else ""
        print(
            f"  {run.storage:<5s} {run.job:<6s} worker {run.worker_cpu * per:7.1f} us, "
            f"PostgreSQL {run.postgres_cpu * per:6.1f} us per item ({share:.0%} in PostgreSQL); "
            f"{store}serial {run.serial:.1f} s of {run.seconds:.1f} s (upload {run.upload:.1f}, "
            f"planning {run.planning:.1f}, between passes {run.between_passes:.1f}, "
            f"finish {run.finish:.1f}; "
            f"serial fraction {run.serial / run.seconds:.1%}); "
            f"{run.chunks} chunks of {run.chunk_busy / run.chunks:.2f} s"
        )
        models.append(Model(run))
        cores = os.cpu_count() or 1
        print(
            f"    this machine's ceiling: {cores} cores / "
            f"{(run.worker_cpu + run.postgres_cpu + run.store_cpu) * per:.1f} us of CPU per item = "
            f"{models[-1].machine_ceiling(cores):,.0f} items/s"
        )
    print(
        "\nPrediction (a model, not a measurement): each worker on a core of its own, "
        "Amdahl's law over the serial seconds above, capped by PostgreSQL doing the "
        "backends' CPU per item on 4 cores (and on 1). items/s:"
    )
    print(f"  {'storage':<8s} {'job':<14s}" + "".join(f"{n:>9d}" for n in PREDICTED_WORKERS))
    for model in models:
        for cores in (4, 1):
            rates = "".join(f"{model.rate(n, cores):9,.0f}" for n in PREDICTED_WORKERS)
            label = f"{model.run.job}, {cores} PG"
            print(f"  {model.run.storage:<8s} {label:<14s}{rates}")
    return models


def write_chart(runs: list[Run], models: list[Model], path: Path, title: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"\nmatplotlib is not installed (pip install -e '.[bench]'): no chart at {path}")
        return
    figure, axes = plt.subplots(1, len(JOBS), figsize=(11, 4.5))
    for axis, job in zip(axes, JOBS, strict=True):
        for storage, colour in zip(STORAGES, ("tab:blue", "tab:orange"), strict=True):
            measured = [r for r in runs if r.storage == storage and r.job == job]
            if not measured:
                continue
            axis.plot(
                [r.workers for r in measured],
                [r.rate for r in measured],
                "o-",
                color=colour,
                label=f"{storage}, measured (2 cores)",
            )
            for model in models:
                if model.run.storage == storage and model.run.job == job:
                    axis.plot(
                        PREDICTED_WORKERS,
                        [model.rate(n, 4) for n in PREDICTED_WORKERS],
                        "--",
                        color=colour,
                        alpha=0.6,
                        label=f"{storage}, predicted (a core per worker, 4 PG cores)",
                    )
                    axis.axhline(
                        model.machine_ceiling(os.cpu_count() or 1),
                        color=colour,
                        linestyle=":",
                        alpha=0.6,
                        label=f"{storage}, this machine's CPU ceiling",
                    )
        axis.set_xscale("log", base=2)
        axis.set_xticks(PREDICTED_WORKERS, [str(n) for n in PREDICTED_WORKERS])
        axis.set_xlabel("worker processes")
        axis.set_ylabel("rows/s" if job == "import" else "documents/s")
        axis.set_title("data.import" if job == "import" else "text.process")
        axis.set_ylim(bottom=0)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=7)
    figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    print(f"\nchart: {path}")


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} cores"


def measure(args: argparse.Namespace) -> list[Run]:
    """Every run the arguments ask for, with the machine's load before and after."""
    print(f"before: {load()}")
    if "s3" in args.storage:
        print(
            "object storage is moto's server: in memory, in Python, on the same cores; "
            "its figures are a lower bound of MinIO's or S3's"
        )
    with scratch_and_database("bulkyard-bench-scale-", keep=args.keep) as scratch:
        files = {"import": scratch / "contacts.csv", "text": scratch / "documents.csv"}
        write_contacts(files["import"], args.rows, SEED)
        write_documents(files["text"], args.documents)
        upload = max(contacts_size_estimate(args.rows), files["text"].stat().st_size)
        # Workers at nice 0, as PostgreSQL's backends are: niced (the default,
        # for hosts shared with web processes) they would give their cores to
        # every other process of a shared machine, and measure that instead.
        env = {**service_env(scratch, upload), "BULKYARD_WORKER_NICE": "0"}
        args.token = bench_user(env)
        runs = [
            run
            for storage in args.storage
            for run in run_storage(storage, env, scratch, files, args)
        ]
    print(f"after: {load()}")
    return runs


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(
        f"Bench: scale-out, {args.rows:,} rows imported and {args.documents:,} documents "
        f"processed by {', '.join(map(str, args.workers))} worker process(es), "
        f"storage {', '.join(args.storage)}."
    )
    runs = [] if args.report_only else measure(args)
    if args.save:
        args.save.write_text(json.dumps([dataclasses.asdict(run) for run in runs], indent=1))
        print(f"figures saved to {args.save}")
    for path in args.include:
        runs += [Run(**fields) for fields in json.loads(path.read_text())]
        print(f"figures of {path} included")
    runs.sort(key=lambda run: (STORAGES.index(run.storage), run.workers, JOBS.index(run.job)))
    print_table(runs)
    models = print_costs(runs)
    sizes = {run.job: run.items for run in runs}
    title = (
        f"Bulkyard scale-out on {os.cpu_count()} cores: {sizes.get('import', 0):,} rows, "
        f"{sizes.get('text', 0):,} documents"
    )
    write_chart(runs, models, args.chart, title)
    return 0


if __name__ == "__main__":
    sys.exit(main())
