"""Byte counts written for people: limits are configured in bytes but
documented, and said in errors, in KiB / MiB / GiB."""

_UNITS = ("bytes", "KiB", "MiB", "GiB", "TiB")


def human_bytes(count: int) -> str:
    """``536870912`` -> ``"512 MiB"``; ``1536`` -> ``"1.5 KiB"``; ``900`` -> ``"900 bytes"``."""
    value = float(count)
    unit = 0
    while value >= 1024 and unit < len(_UNITS) - 1:
        value /= 1024
        unit += 1
    if unit == 0:
        return f"{count} bytes"
    shown = f"{value:.1f}".removesuffix(".0")
    return f"{shown} {_UNITS[unit]}"
