import csv
import gzip

from django.core.management import call_command

from bulkyard.jobs.kinds import ItemError
from bulkyard.targets.registry import get_target


def test_generated_contacts_are_valid_rows_of_the_target(tmp_path):
    path = tmp_path / "contacts.csv"

    call_command("generate_contacts", str(path), "--rows", "200")

    rows = list(csv.DictReader(path.open()))
    target = get_target("contacts")
    assert len(rows) == 200
    assert len({row["email"] for row in rows}) == 200
    for line, row in enumerate(rows, start=2):
        target.convert_row(row, line=line)


def test_invalid_every_plants_one_mistake_per_n_rows(tmp_path):
    path = tmp_path / "contacts.csv.gz"

    call_command("generate_contacts", str(path), "--rows", "100", "--invalid-every", "10")

    target = get_target("contacts")
    failures = 0
    with gzip.open(path, "rt") as rows:
        for line, row in enumerate(csv.DictReader(rows), start=2):
            try:
                target.convert_row(row, line=line)
            except ItemError:
                failures += 1
    assert failures == 10


def test_the_same_seed_writes_the_same_file(tmp_path):
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    call_command("generate_contacts", str(first), "--rows", "50", "--seed", "7")
    call_command("generate_contacts", str(second), "--rows", "50", "--seed", "7")

    assert first.read_bytes() == second.read_bytes()
