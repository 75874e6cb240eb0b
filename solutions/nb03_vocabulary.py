"""Notebook 03 (vocabulary), exercises 1 to 4."""

from __future__ import annotations

from collections.abc import Iterable

from helpers.text import UNK, Vocabulary, clean_caption, word_counts


def unknown_words(vocab: Vocabulary, captions: Iterable[str], n: int = 20) -> list[tuple[str, int]]:
    """Exercise 1: the ``n`` most frequent words of ``captions`` that ``vocab`` does not know."""
    counts = word_counts(captions)
    return [(w, c) for w, c in counts.most_common() if w not in vocab][:n]


def classic_clean(caption: str) -> str:
    """Exercise 2: the classic tutorials' cleaning, which also drops one-letter words ("a")."""
    return " ".join(w for w in clean_caption(caption).split() if len(w) > 1)


def classic_vocabulary(captions: Iterable[str], min_count: int) -> Vocabulary:
    """Exercise 2: a vocabulary fitted on classically cleaned captions."""
    return Vocabulary.fit([classic_clean(c) for c in captions], min_count=min_count)


def unk_share(vocab: Vocabulary, captions: Iterable[str]) -> float:
    """Exercise 3: the share of ``<unk>`` among the encoded words (start and end left out)."""
    unknown = total = 0
    for caption in captions:
        ids = vocab.encode(caption)[1:-1]
        unknown += ids.count(vocab.index[UNK])
        total += len(ids)
    return unknown / total if total else 0.0


def vocabulary_parameters(tokens: int, units: int = 256,
                          embedding_dim: int = 256) -> dict[str, int]:
    """Exercise 4: parameters of the two layers that grow with the vocabulary."""
    embedding = tokens * embedding_dim
    output = units * tokens + tokens  # weights and a bias per token
    return {"embedding": embedding, "next_word": output, "both": embedding + output}
