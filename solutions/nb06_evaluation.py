"""Notebook 06 (evaluation), exercises 1, 2 and 4."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np

from helpers.decoding import beam_search
from helpers.metrics import bleu, tokens


def length_normalisation(model, features: np.ndarray, vocab, references: Sequence[Sequence[str]],
                         length_penalty: float = 0.7, beam_size: int = 3) -> dict[str, dict]:
    """Exercise 1: beam search without and with length normalisation, side by side.

    For each: the words of every caption, their mean, and BLEU. Nothing is
    written to the run folder.
    """
    results = {}
    for penalty in (0.0, length_penalty):
        captions = beam_search(model, features, vocab, beam_size=beam_size,
                               length_penalty=penalty).captions
        lengths = np.array([len(c.split()) for c in captions])
        results[f"length_penalty {penalty}"] = {"lengths": lengths,
                                                "mean length": float(lengths.mean()),
                                                "BLEU": bleu(references, captions)}
    return results


def sentence_bleu4(references: Sequence[Sequence[str]], captions: Sequence[str]) -> np.ndarray:
    """Exercise 2: BLEU-4 of every caption against its own references."""
    return np.array([bleu([refs], [caption])["BLEU-4"]
                     for refs, caption in zip(references, captions)])


def bleu1(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> float:
    """Exercise 4: corpus BLEU-1 by hand: clipped unigram precision times the brevity penalty."""
    matched = generated = closest_total = 0
    for refs, hypothesis in zip(references, hypotheses):
        words = tokens(hypothesis)
        ref_words = [tokens(r) for r in refs]
        most = Counter()
        for ref in ref_words:  # a word counts at most as often as in one reference
            most |= Counter(ref)
        matched += sum(min(n, most[w]) for w, n in Counter(words).items())
        generated += len(words)
        closest_total += min((abs(len(r) - len(words)), len(r)) for r in ref_words)[1]
    if not generated or not matched:
        return 0.0
    brevity = 1.0 if generated > closest_total else math.exp(1 - closest_total / generated)
    return brevity * matched / generated
