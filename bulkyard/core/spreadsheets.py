"""CSV cells a spreadsheet would run as formulas (OWASP "CSV injection"), made inert."""

import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# A plain signed number ("-5", "+1.5") is only a number; it stays as it is.
PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: str) -> str:
    """Make a CSV cell inert in spreadsheets by prefixing a quote when it could
    start a formula."""
    if value.startswith(FORMULA_TRIGGERS) and not PLAIN_NUMBER.fullmatch(value):
        return "'" + value
    return value
