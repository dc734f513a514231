"""A big CSV cut down to the items a cancel left, in-process (``InputReader.extract``):
time and peak Python memory, no database, no server.

Run by ``unprocessed_download.py`` in a subprocess with the bench's environment.
Plans the CSV at ``PATH`` in chunks of ``--chunk-size``, as a cancel leaves a job
run by two pool processes: the first ``--done`` fraction of its chunks done, the
next two stopped half-way, the rest closed; then cuts it down ``--rounds`` times
(wall time of each, the first from a cold start of the reader) and once more
under ``tracemalloc`` (its peak). Prints one JSON line.

    python bench/_unprocessed_extract.py PATH [--chunk-size 10000] [--done 0.3] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django

django.setup()

from bulkyard.jobs.inputs import Remainder, reader_for  # noqa: E402
from bulkyard.jobs.inputs.spans import item_extents  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("path")
    parser.add_argument("--chunk-size", type=int, default=10_000)
    parser.add_argument("--done", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    reader = reader_for("csv")
    with open(args.path, "rb") as raw:
        plan = reader.plan(raw, chunk_size=args.chunk_size)
        first = int(len(plan.spans) * args.done)
        remainders, ran_items = [], 0
        for position, span in enumerate(plan.spans[first:]):
            if position < 2:  # stopped half-way: the first half of its items ran
                numbers = [
                    item.number
                    for item, _, _ in item_extents(raw, "csv", header=plan.header, span=span)
                ]
                ran = numbers[: len(numbers) // 2]
                ran_items += len(ran)
                remainders.append(Remainder(span, done=[[ran[0], ran[-1]]]))
            else:
                remainders.append(Remainder(span))
        seconds, size = [], 0
        for _ in range(args.rounds):
            started = time.perf_counter()
            size = sum(len(piece) for piece in reader.extract(raw, remainders, header=plan.header))
            seconds.append(time.perf_counter() - started)
        tracemalloc.start()
        for _ in reader.extract(raw, remainders, header=plan.header):
            pass
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    items = plan.total_items - sum(span.item_count for span in plan.spans[:first])
    print(
        json.dumps(
            {
                "input_bytes": os.path.getsize(args.path),
                "output_bytes": size,
                "items_left": items - ran_items,
                "seconds": seconds,
                "peak_traced_bytes": peak,
            }
        )
    )


if __name__ == "__main__":
    main()
