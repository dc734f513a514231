"""Reading and splitting job inputs (CSV, JSON Lines, ZIP) without loading them whole.

Planning walks the file once and cuts it into spans of whole items, each
recorded by byte offsets (member positions, in a ZIP); a chunk later seeks
straight to its span. Items of CSV and JSON Lines are numbered by the line
they start on, so every error names a line the user can find in their own
file. Bad bytes, bad JSON or a wrong number of CSV fields
fail that one item; only a structural break that swallows the rest of the file
(a quote that is never closed) fails the whole input.

The engine reaches every format through ``reader_for(format)`` (``readers``):
check an upload, plan the stored file, read a span back, cut the file down to
some of its items (``extract``). The modules behind it, by concern: ``lines``
(what the CSV and JSON Lines readers share), ``csvinput``, ``csvscan`` (where a
record the csv reader broke on ends), ``jsonlinput``, ``spans`` (planning spans
of lines, and reading one back), ``zipinput`` (a ZIP archive's files as items),
``extracts`` and ``zipcopy`` (files of some of an input's items, in its format),
``gzipped`` and ``sniffing`` (the checks made on an upload before a job
exists), ``heads`` (an upload's first items, for a dry-run preview). The
names below are the package's interface; the rest is internal to it.
"""

from bulkyard.jobs.inputs.csvinput import csv_read_header
from bulkyard.jobs.inputs.extracts import Remainder, copy_ranges
from bulkyard.jobs.inputs.gzipped import GZIP_MAGIC, gunzip, is_gzip
from bulkyard.jobs.inputs.heads import HEAD_BYTES, Head, read_head
from bulkyard.jobs.inputs.jsonlinput import MAX_ITEM_DEPTH, nested_too_deeply
from bulkyard.jobs.inputs.lines import READER_ERROR_CODES, UTF8_BOM
from bulkyard.jobs.inputs.readers import InputReader, UploadCheck, reader_for
from bulkyard.jobs.inputs.sniffing import SNIFF_BYTES, sniff, sniff_upload
from bulkyard.jobs.inputs.spans import PLAN_BLOCK_BYTES, Plan, Span, plan_input, read_span

__all__ = [
    "GZIP_MAGIC",
    "HEAD_BYTES",
    "MAX_ITEM_DEPTH",
    "PLAN_BLOCK_BYTES",
    "READER_ERROR_CODES",
    "SNIFF_BYTES",
    "UTF8_BOM",
    "Head",
    "InputReader",
    "Plan",
    "Remainder",
    "Span",
    "UploadCheck",
    "copy_ranges",
    "csv_read_header",
    "gunzip",
    "is_gzip",
    "nested_too_deeply",
    "plan_input",
    "read_head",
    "read_span",
    "reader_for",
    "sniff",
    "sniff_upload",
]
