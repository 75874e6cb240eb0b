"""What a loaded dataset is: captions, splits, image paths and a report (notebook 01).

Every reader of :mod:`helpers.layouts` returns a :class:`CaptionDataset`, and
what it left out is counted in its :class:`LoadReport`: nothing is dropped
silently. The splits are made here too: the official lists, the original
tutorial's 90%/10%, or a reproducible random split when no list exists.
"""

from __future__ import annotations

import random
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


SPLITS = ("train", "val", "test")


class DatasetError(Exception):
    """A dataset file is missing, empty or unreadable; the message says what to do."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """No dataset where one was expected; the message lists the ways to get it."""


@dataclass
class LoadReport:
    """What loading left out, and why. ``str(report)`` is a readable summary."""

    missing_images: Counter = field(default_factory=Counter)
    """image name -> captions dropped because the image is not in the image folder"""
    uncaptioned_images: list[str] = field(default_factory=list)
    """images in the folder that no caption line mentions (not used)"""
    duplicate_lines: list[str] = field(default_factory=list)
    """``file:line`` of caption lines that repeat an earlier caption id (dropped)"""
    malformed_lines: list[str] = field(default_factory=list)
    """``file:line: text`` of lines that could not be parsed (dropped)"""
    split_problems: list[str] = field(default_factory=list)
    """split entries without captions or images (dropped from the split)"""
    notes: list[str] = field(default_factory=list)
    """other facts worth knowing (for example, how the splits were made)"""
    split_made: bool = False
    """True when the split files were missing and a split was made here"""

    @property
    def dropped_captions(self) -> int:
        """Number of caption lines that did not make it into the dataset."""
        return (
            sum(self.missing_images.values())
            + len(self.duplicate_lines)
            + len(self.malformed_lines)
        )

    @property
    def is_clean(self) -> bool:
        """True when nothing at all was dropped."""
        return not (self.dropped_captions or self.uncaptioned_images or self.split_problems)

    def __str__(self) -> str:
        lines = []
        if self.missing_images:
            names = ", ".join(sorted(self.missing_images)[:5])
            more = " ..." if len(self.missing_images) > 5 else ""
            lines.append(
                f"dropped {sum(self.missing_images.values())} captions of "
                f"{len(self.missing_images)} images that are not in the image folder: "
                f"{names}{more}"
            )
        if self.uncaptioned_images:
            lines.append(
                f"ignored {len(self.uncaptioned_images)} images that have no caption: "
                + ", ".join(self.uncaptioned_images[:5])
                + (" ..." if len(self.uncaptioned_images) > 5 else "")
            )
        for label, items in (
            ("duplicate caption lines (dropped)", self.duplicate_lines),
            ("malformed lines (dropped)", self.malformed_lines),
            ("split entries dropped", self.split_problems),
        ):
            if items:
                lines.append(
                    f"{len(items)} {label}: "
                    + "; ".join(items[:3])
                    + (" ..." if len(items) > 3 else "")
                )
        lines.extend(self.notes)
        return "\n".join(lines) if lines else "nothing dropped"


@dataclass
class CaptionDataset:
    """Captions, splits and images of one dataset, whatever layout it came in.

    ``captions`` maps an image file name to its raw caption strings (five for
    Flickr8k), ``splits`` maps ``"train"``, ``"val"`` and ``"test"`` to image
    file names. Every image in a split has captions and a file.
    """

    name: str
    root: Path
    layout: str
    image_dir: Path
    captions: dict[str, list[str]]
    splits: dict[str, list[str]]
    report: LoadReport = field(default_factory=LoadReport)
    relative_paths: dict[str, str] = field(default_factory=dict, repr=False)
    """Only for layouts whose images sit in subfolders (COCO): name -> path."""

    def image_path(self, name: str) -> Path:
        """Full path of the image file ``name`` (a key of ``captions``)."""
        if name not in self.captions:
            raise KeyError(f"{name!r} is not an image of the {self.name} dataset in {self.root}")
        return self.image_dir / self.relative_paths.get(name, name)

    @property
    def num_captions(self) -> int:
        """Total number of captions over all images."""
        return sum(map(len, self.captions.values()))

    def summary(self) -> dict[str, int]:
        """Counts a learner checks first: images, captions and split sizes."""
        counts = {"images": len(self.captions), "captions": self.num_captions}
        counts.update({f"{split} images": len(names) for split, names in self.splits.items()})
        return counts

    def __repr__(self) -> str:
        sizes = "/".join(str(len(self.splits[s])) for s in SPLITS)
        return (  # two lines, so a notebook shows it whole
            f"CaptionDataset({self.name!r}, layout={self.layout!r}, images={len(self.captions)}, "
            f"captions={self.num_captions}, train/val/test={sizes},\n"
            f"               root='{self.root}')"
        )


def _clean_split(
    name: str, listed: list[str], captions: dict[str, list[str]], report: LoadReport
) -> list[str]:
    kept = [image for image in listed if image in captions]
    missing = [image for image in listed if image not in captions]
    if missing:
        report.split_problems.append(
            f"{name}: {len(missing)} images without captions or file ({', '.join(missing[:3])})"
        )
    return kept


ORIGINAL_SPLIT = "90/10"
"""The original tutorial's split: the first 90% of images train, the last 10% test."""


SPLITS_OFFERED = {
    "flickr8k": ("official", ORIGINAL_SPLIT, "karpathy"),
    "shapes": ("official", ORIGINAL_SPLIT),
    "flickr30k": ("karpathy",),
    "coco": ("karpathy",),
}
"""The split names each dataset offers; the first is its default."""


_SPLIT_MEANINGS = {
    "official": "the split lists that come with the dataset",
    ORIGINAL_SPLIT: "the original tutorial's first 90% train, last 10% test",
    "karpathy": "the split in dataset_<name>.json",
}


def check_split(dataset: str, split: str | None) -> str:
    """The split name ``dataset`` will be read with, checked before any file is read.

    ``None`` gives the dataset's default (the first of :data:`SPLITS_OFFERED`).
    The old name ``"seed"`` still means ``"90/10"``, with a ``FutureWarning``.
    Any other name the dataset does not offer raises a ``ValueError`` that
    lists what it does offer. Taught in notebook 01.
    """
    offered = SPLITS_OFFERED.get(dataset, ("official", ORIGINAL_SPLIT, "karpathy"))
    if split is None:
        return offered[0]
    if split == "seed":
        warnings.warn(
            'split="seed" is now split="90/10" (the original tutorial\'s first 90% train, '
            'last 10% test); use "90/10", as "seed" will stop working.',
            FutureWarning,
            stacklevel=3,
        )
        split = ORIGINAL_SPLIT
    if split not in offered:
        choices = "; ".join(f"{s!r} ({_SPLIT_MEANINGS[s]})" for s in offered)
        raise ValueError(
            f"Unknown split {split!r} for the {dataset} dataset. It offers: {choices}."
        )
    return split


def original_split(order: list[str], train_fraction: float = 0.9) -> dict[str, list[str]]:
    """The original tutorial's split: the first 90% of images (file order) train, the rest test.

    The original tutorial had no validation set; here ``"val"`` is the same
    images as ``"test"``, as it was there, so scores are comparable with it
    (and optimistic, since checkpoints are chosen on the test images).
    Taught in notebook 01.
    """
    cut = int(len(order) * train_fraction)
    return {"train": order[:cut], "val": order[cut:], "test": order[cut:]}


def random_split(
    names: list[str], fractions: tuple[float, float, float] = (0.75, 0.125, 0.125), seed: int = 0
) -> dict[str, list[str]]:
    """A reproducible train/val/test split with the official Flickr8k proportions."""
    shuffled = sorted(names)
    random.Random(seed).shuffle(shuffled)
    n_train = round(len(shuffled) * fractions[0])
    n_val = round(len(shuffled) * fractions[1])
    return {
        "train": shuffled[:n_train],
        "val": shuffled[n_train : n_train + n_val],
        "test": shuffled[n_train + n_val :],
    }
