"""Reading and splitting job inputs (CSV, JSON Lines) without loading them whole.

Planning walks the file once and cuts it into spans of whole items, each
recorded by byte offsets; a chunk later seeks straight to its span. Items are
numbered by the line they start on, so every error names a line the user can
find in their own file. Bad bytes, bad JSON or a wrong number of CSV fields
fail that one item; only a structural break that swallows the rest of the file
(a quote that is never closed) fails the whole input.

The modules, by concern: ``lines`` (what both readers share), ``csvinput``,
``csvscan`` (where a record the csv reader broke on ends), ``jsonlinput``,
``spans`` (planning spans, and reading one back), ``gzipped`` and ``sniffing`` (the
checks made on an upload before a job exists). The names below are the
package's interface; the rest is internal to it.
"""

from bulkyard.jobs.inputs.csvinput import csv_read_header
from bulkyard.jobs.inputs.gzipped import GZIP_MAGIC, gunzip, is_gzip
from bulkyard.jobs.inputs.jsonlinput import MAX_ITEM_DEPTH, nested_too_deeply
from bulkyard.jobs.inputs.lines import READER_ERROR_CODES, UTF8_BOM
from bulkyard.jobs.inputs.sniffing import SNIFF_BYTES, sniff, sniff_upload
from bulkyard.jobs.inputs.spans import PLAN_BLOCK_BYTES, Plan, Span, plan_input, read_span

__all__ = [
    "GZIP_MAGIC",
    "MAX_ITEM_DEPTH",
    "PLAN_BLOCK_BYTES",
    "READER_ERROR_CODES",
    "SNIFF_BYTES",
    "UTF8_BOM",
    "Plan",
    "Span",
    "csv_read_header",
    "gunzip",
    "is_gzip",
    "nested_too_deeply",
    "plan_input",
    "read_span",
    "sniff",
    "sniff_upload",
]
