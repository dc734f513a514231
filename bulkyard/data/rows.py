"""One input row of an import judged against its target: what a chunk of the
real run and the dry-run preview both do, so that they cannot disagree."""

from typing import Any

from bulkyard.jobs.sdk import Item, ItemError, ItemResultData, failure
from bulkyard.targets.registry import ImportTarget


def row_result(
    item: Item, *, target: ImportTarget, fields: set[str], mapping: dict[str, str]
) -> ItemResultData:
    """The item's failure (its reader's error, a value that is no object, an
    unknown field, a value the target's column refuses) or its success, with
    the converted values as ``output`` in the target's column order.
    ``fields``: the target's field names (passed in: built once per chunk)."""
    if item.error is not None:
        return failure(item, item.error.code, item.error.message)
    if not isinstance(item.data, dict):
        return failure(item, "invalid_item", f"line {item.number}: expected an object")
    row: dict[str, Any] = item.data
    if mapping:
        row = {str(mapping.get(name, name)): value for name, value in row.items()}
    try:
        if not fields.issuperset(row):
            unknown = sorted(set(row) - fields)
            raise ItemError(
                "unknown_fields", f"line {item.number}: unknown field(s) {', '.join(unknown)}"
            )
        values = target.convert_row(row, line=item.number)
    except ItemError as exc:
        return failure(item, exc.code, exc.message)
    return ItemResultData(number=item.number, succeeded=True, output=values)
