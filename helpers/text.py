"""Caption text: cleaning, word counts (notebook 01) and the vocabulary (notebook 03).

Cleaning makes captions comparable: ``"A dog, running!"`` and ``"a dog running"``
should be the same words. The classic tutorials also delete one-letter words,
which throws away the article "a", the most frequent word of every caption;
here it stays, so generated captions read like sentences.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from helpers.runtime import write_atomically

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


# --------------------------------------------------------------------------
# The vocabulary (notebook 03)
# --------------------------------------------------------------------------

PAD, UNK, START, END = "<pad>", "<unk>", "<start>", "<end>"
SPECIAL = (PAD, UNK, START, END)  # indices 0, 1, 2, 3: padding is 0, as Keras masks expect
DEFAULT_MIN_COUNT = 5


class VocabularyError(ValueError):
    """A vocabulary file that cannot be used; the message names it."""


class Vocabulary:
    """Words <-> integer ids, fitted on training captions only.

    Index 0 pads (and is masked by the model), 1 stands for any word the
    vocabulary does not know, 2 and 3 start and end every caption. Words seen
    fewer than ``min_count`` times in training become ``<unk>``: a model cannot
    learn a word from one or two examples, and each word costs a row of the
    embedding and a column of the output layer.
    """

    def __init__(self, words: list[str], min_count: int = DEFAULT_MIN_COUNT, max_length: int = 0):
        self.words = [*SPECIAL, *words]
        self.index = {w: i for i, w in enumerate(self.words)}
        self.min_count = min_count
        self.max_length = max_length  # longest training caption in tokens, with <start> and <end>

    @classmethod
    def fit(cls, captions: Iterable[str], min_count: int = DEFAULT_MIN_COUNT) -> Vocabulary:
        """Build the vocabulary from (training) captions: frequent words first."""
        captions = list(captions)
        counts = word_counts(captions)
        words = sorted((w for w, n in counts.items() if n >= min_count),
                       key=lambda w: (-counts[w], w))
        longest = max((len(clean_caption(c).split()) for c in captions), default=0)
        return cls(words, min_count=min_count, max_length=longest + 2)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def encode(self, caption: str) -> list[int]:
        """Clean ``caption`` and turn it into ids, ``<start>`` ... ``<end>``; unknown words -> 1."""
        ids = [self.index.get(w, 1) for w in clean_caption(caption).split()]
        return [self.index[START], *ids, self.index[END]]

    def decode(self, ids: Iterable[int]) -> str:
        """Ids back to words, stopping at ``<end>``; ``<unk>`` stays visible.

        ``<start>`` and padding are dropped. An unknown word decodes to
        ``<unk>`` rather than vanishing, so a round trip shows what was lost.
        """
        words = []
        for i in ids:
            word = self.words[int(i)]
            if word == END:
                break
            if word not in (PAD, START):
                words.append(word)
        return " ".join(words)

    def pad(self, sequences: list[list[int]], length: int | None = None) -> list[list[int]]:
        """Pad (with 0) or cut every sequence to ``length`` (default: ``max_length``)."""
        length = length or self.max_length
        return [(s + [0] * length)[:length] for s in sequences]

    def coverage(self, captions: Iterable[str]) -> float:
        """Share of the words of ``captions`` the vocabulary knows."""
        counts = word_counts(captions)
        total = sum(counts.values())
        return sum(n for w, n in counts.items() if w in self.index) / total if total else 0.0

    def to_dict(self) -> dict:
        return {"words": self.words[len(SPECIAL):], "special": list(SPECIAL),
                "min_count": self.min_count, "max_length": self.max_length}

    def save(self, path: str | Path) -> Path:
        """Write the vocabulary as JSON, atomically (temp file + rename)."""
        return write_atomically(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a vocabulary written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text())
            if data["special"] != list(SPECIAL):
                raise ValueError(f"special tokens {data['special']} differ from {list(SPECIAL)}")
            return cls(data["words"], data["min_count"], data["max_length"])
        except FileNotFoundError:
            raise VocabularyError(f"{path} does not exist: run notebook 03 to build it") from None
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            raise VocabularyError(f"{path} is not a vocabulary file ({err}); "
                                  "delete it and run notebook 03 again") from None

    def __repr__(self) -> str:
        return (f"Vocabulary({len(self)} tokens, min_count={self.min_count}, "
                f"max_length={self.max_length})")
