"""Deterministic sample data for the example ``Contact`` target."""

import csv
import gzip
import random
from typing import IO

FIRST = ["Ada", "Alan", "Grace", "Linus", "Margaret", "Edsger", "Barbara", "Donald", "Frances"]
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Hamilton", "Dijkstra", "Liskov", "Knuth"]
CITIES = ["London", "Paris", "Berlin", "Lisbon", "Oslo", "Rome", "Madrid", "Vienna", "Prague"]
HEADER = ["email", "name", "age", "city", "amount"]


def write_contacts(
    out: IO[str], *, rows: int, seed: int = 1, invalid_every: int = 0, start: int = 0
) -> int:
    """Write ``rows`` contact rows (and a header) as CSV, streaming. With
    ``invalid_every`` = n, every n-th row carries one mistake (a bad email, an
    age out of range, a non-number amount) to try error reports on."""
    rng = random.Random(seed)
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for number in range(start, start + rows):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        row = [
            f"{first}.{last}.{number}@example.com".lower(),
            f"{first} {last}",
            str(rng.randint(18, 90)),
            rng.choice(CITIES),
            f"{rng.randint(0, 1_000_000) / 100:.2f}",
        ]
        if invalid_every and number % invalid_every == invalid_every - 1:
            mistake = number // invalid_every % 3
            column = {0: 0, 1: 2, 2: 4}[mistake]
            row[column] = {0: "not-an-email", 1: "-5", 2: "a lot"}[mistake]
        writer.writerow(row)
    return rows


def open_output(path: str) -> IO[str]:
    if path.endswith(".gz"):
        return gzip.open(path, "wt", encoding="utf-8", newline="")
    return open(path, "w", encoding="utf-8", newline="")
