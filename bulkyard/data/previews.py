"""The dry-run preview of ``data.import``: the first rows of a file judged as
the real run would judge them (``rows.row_result``), and, in insert mode, the
rows whose key the owner already has (what the real run's commit refuses);
nothing is written."""

from collections.abc import Iterable
from typing import Any

from bulkyard.data.rows import row_result
from bulkyard.data.writers import already_exists_error
from bulkyard.jobs.sdk import Item, Preview, PreviewError, PreviewRow
from bulkyard.targets.registry import ImportTarget, get_target


def import_preview(
    *, items: Iterable[Item], target_name: str, mode: str, mapping: dict[str, str], owner: Any
) -> Preview:
    target = get_target(target_name)
    fields = set(target.field_names)
    judged = [
        (item, row_result(item, target=target, fields=fields, mapping=mapping)) for item in items
    ]
    taken = _keys_taken(target, judged, owner) if mode == "insert" else set()
    key_position = target.field_names.index(target.key)
    rows = []
    for item, result in judged:
        errors = [] if result.succeeded else [PreviewError(result.code, result.message)]
        if result.succeeded and result.output[key_position] in taken:
            errors.append(PreviewError(*already_exists_error(target, result.output[key_position])))
        values = item.data if isinstance(item.data, dict) else {"value": item.data}
        rows.append(PreviewRow(number=item.number, values=values, errors=errors))
    return Preview(rows=rows, columns=list(target.field_names))


def _keys_taken(target: ImportTarget, judged: list[tuple[Item, Any]], owner: Any) -> set[Any]:
    position = target.field_names.index(target.key)
    keys = [result.output[position] for _, result in judged if result.succeeded]
    if not keys:
        return set()
    rows = target.rows_for(owner)
    return set(rows.filter(**{f"{target.key}__in": keys}).values_list(target.key, flat=True))
