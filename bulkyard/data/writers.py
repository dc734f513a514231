"""Writing a chunk of converted rows into an import target.

PostgreSQL: ``COPY`` into a temporary staging table, one set-based claim of the
keys in the job's ledger, one ``INSERT … ON CONFLICT``. Everything runs in the
caller's transaction, the one that marks the chunk done, so a chunk retried
after a crash neither loses nor duplicates rows. Other databases (SQLite, the
embedded default) get the same rules through the ORM.

Rule for a key that appears on several lines of one file: the highest line
wins. A row is written only while it holds the highest line seen so far for
its key (the ledger), so the result does not depend on which chunk commits
first; the ledger row lock serialises competing chunks.
"""

from collections.abc import Mapping, Sequence
from typing import Any

from django.db import connection, models

from bulkyard.data.models import ImportKey
from bulkyard.targets.access import concrete_field
from bulkyard.targets.registry import ImportTarget

Rows = Sequence[tuple[int, tuple[Any, ...]]]
# line -> (code, message) of rows the database refused
Rejections = dict[int, tuple[str, str]]


def write_chunk(
    *, target: ImportTarget, job_id: str, rows: Rows, mode: str, scope: Mapping[str, Any]
) -> Rejections:
    """Write valid rows (``(line, values)``) of one chunk; returns the lines the
    target refused (in insert-only mode: keys that already exist). ``scope``
    holds the values that make a row the job owner's (``target.scope_values``):
    every row gets them, and keys are matched only among the rows that have
    them."""
    if not rows:
        return {}
    if connection.vendor == "postgresql":
        return _write_postgres(target=target, job_id=job_id, rows=rows, mode=mode, scope=scope)
    return _write_portable(target=target, job_id=job_id, rows=rows, mode=mode, scope=scope)


def _write_postgres(
    *, target: ImportTarget, job_id: str, rows: Rows, mode: str, scope: Mapping[str, Any]
) -> Rejections:
    qn = connection.ops.quote_name
    columns = [qn(column.db_column) for column in target.columns]
    names = ", ".join(columns)
    key_index = target.field_names.index(target.key)
    key = columns[key_index]
    ledger = qn(ImportKey._meta.db_table)
    # The scope's values are the same for every row of the job: constants of
    # the final INSERT, not columns of the COPY.
    scope_columns = [qn(column) for column in target.scope_columns]
    scope_params = [scope[field] for field in target.scope.fields] if target.scope else []
    inserted_names = ", ".join([*scope_columns, *columns])
    conflict = ", ".join([*scope_columns, key])
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE bulkyard_stage ON COMMIT DROP AS "  # noqa: S608 - quoted names
            f"SELECT 0::bigint AS by_line, {names} FROM {qn(target.table)} WITH NO DATA"
        )
        raw = cursor.cursor  # psycopg's own cursor, for COPY
        with raw.copy(f"COPY bulkyard_stage (by_line, {names}) FROM STDIN") as copy:
            for line, values in rows:
                copy.write_row((line, *values))
        # Sorting a chunk's keys must not spill to disk at the default 4 MB.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        # Claim keys in key order (competing chunks lock ledger rows in the
        # same order and cannot deadlock). The claim returns the keys this
        # chunk now holds, and only those rows are written: joining the
        # ledger instead would read every key the job has claimed so far, a
        # cost that grows with each chunk.
        claimed = (
            f"WITH claimed AS ("  # noqa: S608 - quoted names
            f"  INSERT INTO {ledger} (job_id, key, line)"
            f"  SELECT %s, latest.{key}::text, latest.by_line FROM ("
            f"    SELECT DISTINCT ON ({key}) {key}, by_line FROM bulkyard_stage"
            f"    ORDER BY {key}, by_line DESC) AS latest ORDER BY latest.{key}"
            f"  ON CONFLICT (job_id, key) DO UPDATE SET line = EXCLUDED.line"
            f"  WHERE {ledger}.line < EXCLUDED.line"
            f"  RETURNING key, line"
            f"), winners AS ("
            f"  SELECT s.* FROM bulkyard_stage s"
            f"  JOIN claimed c ON c.key = s.{key}::text AND c.line = s.by_line"
            f") "
        )
        constants = "".join("%s, " for _ in scope_columns)
        from_winners = f"SELECT {constants}{names} FROM winners"  # noqa: S608
        if mode == "insert":
            cursor.execute(
                f"{claimed}, inserted AS ("  # noqa: S608
                f"  INSERT INTO {qn(target.table)} ({inserted_names}) {from_winners}"
                f"  ON CONFLICT ({conflict}) DO NOTHING RETURNING {key}"
                f") SELECT w.by_line, w.{key}::text FROM winners w "
                f"WHERE NOT EXISTS (SELECT FROM inserted i WHERE i.{key} = w.{key})",
                [job_id, *scope_params],
            )
            return {line: already_exists_error(target, value) for line, value in cursor.fetchall()}
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in columns if c != key)
        cursor.execute(
            f"{claimed} INSERT INTO {qn(target.table)} ({inserted_names}) {from_winners} "
            f"ON CONFLICT ({conflict}) DO UPDATE SET {updates}",
            [job_id, *scope_params],
        )
    return {}


def _write_portable(
    *, target: ImportTarget, job_id: str, rows: Rows, mode: str, scope: Mapping[str, Any]
) -> Rejections:
    """The same rules through the ORM, for databases without COPY. The caller's
    transaction (SQLite: one writer at a time) makes check-then-write safe."""
    key_index = target.field_names.index(target.key)
    latest: dict[str, tuple[int, tuple[Any, ...]]] = {}
    for line, values in rows:
        key = str(values[key_index])
        if key not in latest or latest[key][0] < line:
            latest[key] = (line, values)
    held = dict(
        ImportKey.objects.filter(job_id=job_id, key__in=list(latest)).values_list("key", "line")
    )
    winners = {key: row for key, row in latest.items() if held.get(key, -1) < row[0]}
    ImportKey.objects.bulk_create(
        [ImportKey(job_id=job_id, key=key, line=line) for key, (line, _) in winners.items()],
        update_conflicts=True,
        unique_fields=["job", "key"],
        update_fields=["line"],
    )
    model: type[models.Model] = target.model
    # Scope values as the model's attributes (``owner_id`` for ``owner``).
    owned = {concrete_field(model, name).attname: value for name, value in scope.items()}
    objects = {
        key: model(**owned, **dict(zip(target.field_names, values, strict=True)))
        for key, (_, values) in winners.items()
    }
    if mode == "insert":
        existing = set(
            model._default_manager.filter(
                **scope, **{f"{target.key}__in": list(objects)}
            ).values_list(target.key, flat=True)
        )
        model._default_manager.bulk_create(
            [obj for key, obj in objects.items() if key not in existing]
        )
        return {winners[key][0]: already_exists_error(target, key) for key in existing}
    model._default_manager.bulk_create(
        list(objects.values()),
        update_conflicts=True,
        unique_fields=[*scope, target.key],
        update_fields=[name for name in target.field_names if name != target.key],
    )
    return {}


def already_exists_error(target: ImportTarget, value: str) -> tuple[str, str]:
    return "already_exists", f"a row with {target.key} = {value!r} already exists"
