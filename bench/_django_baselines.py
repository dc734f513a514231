"""Django-side baselines for ``import_throughput.py``, run by it as a subprocess.

Each mode upserts rows of a contacts CSV (``email,name,age,city,amount``) into
``bulkyard_data_contact`` on ``email`` the way a Django project commonly would, and
prints one JSON line: ``{"mode": ..., "rows": N, "seconds": S}``. The clock starts after
Django is set up (settings, apps, the database connection) and covers reading the CSV,
building the objects and writing them.

Modes
    ``bulk-create``    ``Contact.objects.bulk_create(..., update_conflicts=True)`` per
                       batch of rows (default 2,000), each batch its own statement.
    ``import-export``  django-import-export 4.x: a ``ModelResource`` with
                       ``use_bulk = True``, ``batch_size = 2000``, ``skip_diff = True`` and
                       ``--loader``: ``cached`` (``CachedInstanceLoader``, its fastest
                       documented setting) or ``default`` (``ModelInstanceLoader``);
                       ``import_data(dataset, dry_run=False, raise_errors=True)`` on a tablib
                       dataset loaded from the first ``--rows`` rows of the file.

The caller sets ``DJANGO_SETTINGS_MODULE`` and ``DATABASE_URL`` (the bench database).
``import_export`` need not be in ``INSTALLED_APPS``: that is for its admin integration only;
resources work without it (checked: ``config.settings.base`` does not list it).
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
UPDATE_FIELDS = ["name", "age", "city", "amount"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=["bulk-create", "import-export"])
    parser.add_argument("csv", type=Path, help="a contacts CSV with a header line")
    parser.add_argument("--rows", type=int, default=0, help="first N rows only (0: all)")
    parser.add_argument("--batch-size", type=int, default=2000)
    parser.add_argument(
        "--loader",
        choices=["cached", "default"],
        default="cached",
        help="import-export's instance loader: cached (one query) or default (one per row)",
    )
    return parser.parse_args(argv)


def setup_django() -> None:
    sys.path.insert(0, str(REPO_ROOT))
    import django

    django.setup()


def bench_owner() -> int:
    """The bench user, whose contacts every baseline writes (they are scoped by owner)."""
    from django.contrib.auth import get_user_model

    return int(get_user_model()._default_manager.get(username="bench").pk)


def bulk_create(path: Path, *, rows: int, batch_size: int) -> int:
    from bulkyard.data.models import Contact

    owner = bench_owner()
    written = 0
    with path.open(newline="", encoding="utf-8") as source:
        reader = csv.DictReader(source)
        records = itertools.islice(reader, rows) if rows else reader
        batch: list[Contact] = []
        for record in records:
            age = record["age"].strip()
            batch.append(
                Contact(
                    owner_id=owner,
                    email=record["email"],
                    name=record["name"],
                    age=int(age) if age else None,
                    city=record["city"],
                    amount=Decimal(record["amount"]),
                )
            )
            if len(batch) == batch_size:
                written += flush(batch, batch_size)
                batch = []
        if batch:
            written += flush(batch, batch_size)
    return written


def flush(batch: list[Any], batch_size: int) -> int:
    from bulkyard.data.models import Contact

    Contact.objects.bulk_create(
        batch,
        batch_size=batch_size,
        update_conflicts=True,
        unique_fields=["owner", "email"],
        update_fields=UPDATE_FIELDS,
    )
    return len(batch)


def import_export(path: Path, *, rows: int, batch_size: int, loader: str) -> int:
    import tablib
    from import_export import resources
    from import_export.instance_loaders import CachedInstanceLoader, ModelInstanceLoader

    from bulkyard.data.models import Contact

    size = batch_size
    # Cached: one query for all existing keys instead of one per row (the library's
    # documented speed-up; same upsert semantics). Default: the library's default.
    loader_class = CachedInstanceLoader if loader == "cached" else ModelInstanceLoader

    owner = bench_owner()

    class ContactResource(resources.ModelResource):
        """The user's own contacts, as a project would scope an import: keys
        matched among the owner's rows, the owner set on each new row. (Owner as
        an imported column instead cost a foreign-key lookup per row, and the
        cached loader keys on the first id field only.)"""

        class Meta:
            model = Contact
            fields = ("email", "name", "age", "city", "amount")
            import_id_fields = ["email"]
            use_bulk = True
            batch_size = size
            skip_diff = True
            instance_loader_class = loader_class

        def get_queryset(self) -> Any:
            return Contact.objects.filter(owner_id=owner)

        def init_instance(self, row: Any = None) -> Contact:
            return Contact(owner_id=owner)

    with path.open(newline="", encoding="utf-8") as source:
        lines = itertools.islice(source, rows + 1) if rows else source
        text = "".join(lines)
    dataset = tablib.Dataset().load(io.StringIO(text), format="csv")
    result = ContactResource().import_data(dataset, dry_run=False, raise_errors=True)
    if result.has_errors() or result.has_validation_errors():
        raise RuntimeError("django-import-export reported errors")
    totals = result.totals
    return int(totals.get("new", 0)) + int(totals.get("update", 0))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_django()
    from django.db import connection

    connection.ensure_connection()
    started = time.perf_counter()
    if args.mode == "bulk-create":
        written = bulk_create(args.csv, rows=args.rows, batch_size=args.batch_size)
    else:
        written = import_export(
            args.csv, rows=args.rows, batch_size=args.batch_size, loader=args.loader
        )
    seconds = time.perf_counter() - started
    print(json.dumps({"mode": args.mode, "rows": written, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
