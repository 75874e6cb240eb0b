"""Caption text: cleaning and word counts (notebook 01; the vocabulary comes in notebook 03).

Cleaning makes captions comparable: ``"A dog, running!"`` and ``"a dog running"``
should be the same words. The classic tutorials also delete one-letter words,
which throws away the article "a", the most frequent word of every caption;
here it stays, so generated captions read like sentences.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

_NOT_LETTERS = re.compile(r"[^a-z ]+")


def clean_caption(caption: str) -> str:
    """Lower case, punctuation and digits out, single spaces.

    >>> clean_caption("A dog, running on 2 legs!")
    'a dog running on legs'
    """
    letters = _NOT_LETTERS.sub(" ", caption.lower().replace("'", ""))
    return " ".join(letters.split())


def word_counts(captions: Iterable[str]) -> Counter:
    """How often each word occurs in ``captions`` after cleaning."""
    counts: Counter = Counter()
    for caption in captions:
        counts.update(clean_caption(caption).split())
    return counts
