"""Notebook 01 (data loading), exercises 1 to 4."""

from __future__ import annotations

from collections import Counter

from helpers.data import load_dataset
from helpers.dataset import CaptionDataset
from helpers.text import clean_caption, word_counts


def original_split_summary(settings) -> dict[str, object]:
    """Exercise 1: sizes of the original tutorial's 90/10 split; is validation the test set?"""
    original = load_dataset(settings, split="90/10")
    sizes = {split: len(names) for split, names in original.splits.items()}
    return {**sizes, "images": len(original.captions),
            "val is test": original.splits["val"] == original.splits["test"]}


def longest_caption(dataset: CaptionDataset) -> tuple[str, str]:
    """Exercise 2: ``(image name, caption)`` of the longest caption, in cleaned words."""
    pairs = ((name, c) for name, captions in dataset.captions.items() for c in captions)
    return max(pairs, key=lambda pair: len(clean_caption(pair[1]).split()))


def split_counts(dataset: CaptionDataset, split: str) -> Counter:
    """Word counts of the captions of one split."""
    return word_counts(c for name in dataset.splits[split] for c in dataset.captions[name])


def words_missing_from_training(dataset: CaptionDataset) -> Counter:
    """Exercise 3: words of the validation and test captions never seen in training, counted."""
    train = split_counts(dataset, "train")
    others = split_counts(dataset, "val") + split_counts(dataset, "test")
    return Counter({word: n for word, n in others.items() if word not in train})


def word_shares(dataset: CaptionDataset, top: int = 10) -> dict[str, float]:
    """Exercise 4: the ``top`` most frequent words and their share of all words."""
    counts = word_counts(c for captions in dataset.captions.values() for c in captions)
    total = sum(counts.values())
    return {word: n / total for word, n in counts.most_common(top)}
