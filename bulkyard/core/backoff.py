"""How long to wait before trying something again."""

import random


def backoff_seconds(attempt: int, *, base: float = 5.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter (AWS architecture blog's recipe):
    a random wait up to ``base * 2 ** (attempt - 1)``, at most ``cap``."""
    return random.uniform(0, min(cap, base * 2 ** max(attempt - 1, 0)))
