"""Keywords by TF-IDF over a whole job.

A document's words are weighed by how often it uses them (term frequency) and
how few of the job's documents use them (inverse document frequency,
``log((1 + n) / (1 + df)) + 1``, scikit-learn's smoothed form). The document
frequencies need every document first: the first pass counts them per chunk
into ``TermCount``; a second pass ranks each document's words against the
totals (``JobKind.plan_second_pass``).
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache

from stop_words import AVAILABLE_LANGUAGES, LANGUAGE_MAPPING, get_stop_words

TOKEN = re.compile(r"[^\W\d_][\w'’-]*[^\W_]|[^\W\d_]", re.UNICODE)  # noqa: RUF001
MIN_LENGTH = 3
# Longer "words" (a run of letters with no break) are no keywords; the job's
# document frequencies keep terms up to this length.
MAX_LENGTH = 100


@lru_cache(maxsize=64)
def stop_words(language: str | None) -> frozenset[str]:
    """Common words of a language (the ``stop-words`` lists), English when the
    language is unknown or has no list."""
    code = language or "en"
    name = LANGUAGE_MAPPING.get(code, code)
    if name not in AVAILABLE_LANGUAGES:
        name = "english"
    return frozenset(word.lower() for word in get_stop_words(name))


def terms(text: str, language: str | None) -> Counter[str]:
    """How often each candidate keyword occurs in the text."""
    stop = stop_words(language)
    return Counter(
        word
        for word in TOKEN.findall(text.lower())
        if MIN_LENGTH <= len(word) <= MAX_LENGTH and word not in stop
    )


def idf(documents: int, frequency: int) -> float:
    return math.log((1 + documents) / (1 + frequency)) + 1


def weights(
    terms: Iterable[str], frequencies: Mapping[str, int], documents: int
) -> dict[str, float]:
    """Each term's IDF, computed once for a batch of documents."""
    return {term: idf(documents, frequencies.get(term, 1)) for term in terms}


def top(
    counts: Mapping[str, int], weights: Mapping[str, float], count: int
) -> list[tuple[str, float]]:
    """The ``count`` terms by TF-IDF, ties broken alphabetically (stable output)."""
    best = heapq.nsmallest(
        count, counts.items(), key=lambda pair: (-pair[1] * weights[pair[0]], pair[0])
    )
    return [(term, round(tf * weights[term], 4)) for term, tf in best]
