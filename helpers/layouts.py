"""Reading each dataset layout from disk (notebook 01).

* **Flickr8k, official layout** (what the classic tutorials use)::

      Flicker8k_Dataset/*.jpg            (spelled so)
      Flickr8k.token.txt                 <image>.jpg#<0-4><TAB><caption>
      Flickr_8k.{train,dev,test}Images.txt
      (the text files may sit in a Flickr8k_text/ subfolder)

* **Flickr8k, Kaggle layout**: ``Images/`` and ``captions.txt`` (CSV with the
  header ``image,caption``; captions may contain commas).
* **Karpathy split JSON** (``dataset_flickr8k.json``, ``dataset_flickr30k.json``,
  ``dataset_coco.json``): ``images[].filename``, ``split``, ``sentences[].raw``.

Each malformed line is named by file and line number in the report.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

from helpers.dataset import (
    IMAGE_SUFFIXES,
    ORIGINAL_SPLIT,
    SPLITS,
    CaptionDataset,
    DatasetError,
    DatasetNotFoundError,
    LoadReport,
    _clean_split,
    check_split,
    original_split,
    random_split,
)
from helpers.settings import SHAPES_INSTEAD

FLICKR8K_IMAGE_DIRS = ("Flicker8k_Dataset", "Flickr8k_Dataset")


TOKEN_FILE = "Flickr8k.token.txt"


SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}


_IMAGE_NAME = re.compile(r"^(?P<name>.+?\.(?:jpe?g|png))(?:\.\d+)?$", re.IGNORECASE)


_CAPTION_ID = re.compile(r"^(?P<image>.+)#(?P<index>\d+)$")


def normalize_image_name(raw: str) -> str | None:
    """``'x.jpg'`` -> ``'x.jpg'``; ``'x.jpg.1'`` (a known Flickr8k typo) -> ``'x.jpg'``.

    Returns None when ``raw`` does not look like an image file name at all.
    """
    match = _IMAGE_NAME.match(raw.strip())
    return match.group("name") if match else None


def _read_lines(path: Path) -> list[str]:
    """The lines of a text file, with a clear error when it is empty or not text."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as err:
        raise DatasetError(
            f"{path} is not a UTF-8 text file (byte {err.start} cannot be decoded). "
            "It may be damaged: download or extract it again."
        ) from None
    if not text.strip():
        raise DatasetError(f"{path} is empty. Download or extract the dataset again.")
    return text.splitlines()


def read_token_file(path: Path, report: LoadReport) -> list[tuple[str, str]]:
    """Parse ``Flickr8k.token.txt``: ``(image name, caption)`` pairs, in file order.

    Malformed lines and repeated caption ids are dropped and recorded in
    ``report`` with their file and line number.
    """
    pairs: list[tuple[str, str]] = []
    seen_ids: set[tuple[str, str]] = set()
    for number, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        key, tab, caption = line.partition("\t")
        match = _CAPTION_ID.match(key.strip())
        image = normalize_image_name(match.group("image")) if match else None
        if not tab or not caption.strip() or image is None:
            report.malformed_lines.append(
                f"{path.name}:{number}: {line[:60]!r} (expected '<image>.jpg#<n><TAB><caption>')"
            )
            continue
        caption_id = (image, match.group("index"))
        if caption_id in seen_ids:
            report.duplicate_lines.append(f"{path.name}:{number}")
            continue
        seen_ids.add(caption_id)
        pairs.append((image, caption.strip()))
    return pairs


def read_kaggle_captions(path: Path, report: LoadReport) -> list[tuple[str, str]]:
    """Parse Kaggle's ``captions.txt``: a CSV with header ``image,caption``.

    Captions may contain commas, quoted or not, so each row is split at its
    first comma only.
    """
    lines = _read_lines(path)
    if lines[0].strip().lower().replace(" ", "") != "image,caption":
        raise DatasetError(
            f"{path}:1: expected the header 'image,caption', found {lines[0][:60]!r}. "
            "Is this the captions.txt of the Kaggle Flickr8k dataset?"
        )
    if not any(line.strip() for line in lines[1:]):
        raise DatasetError(
            f"{path} has the header 'image,caption' but no caption rows: captions.txt is "
            "empty. Download or extract the Kaggle Flickr8k dataset again."
        )
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        raw_image, comma, caption = line.partition(",")
        caption = caption.strip()
        if caption.startswith('"') and caption.endswith('"') and len(caption) > 1:
            caption = next(csv.reader([caption]))[0].strip()
        image = normalize_image_name(raw_image)
        if not comma or not caption or image is None:
            report.malformed_lines.append(
                f"{path.name}:{number}: {line[:60]!r} (expected '<image>.jpg,<caption>')"
            )
            continue
        pairs.append((image, caption))
    return pairs


def read_split_file(path: Path) -> list[str]:
    """Image names listed one per line in a split file (blank lines ignored)."""
    names = []
    for line in _read_lines(path):
        name = normalize_image_name(line)
        if name:
            names.append(name)
    return names


def list_images(folder: Path) -> set[str]:
    """Image file names in ``folder``, without macOS ``._*`` resource files."""
    return {
        p.name
        for p in folder.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("._")
    }


def _group_captions(
    pairs: list[tuple[str, str]], images: set[str], report: LoadReport
) -> dict[str, list[str]]:
    """Captions per image; captions of images not in ``images`` are dropped and counted."""
    captions: dict[str, list[str]] = {}
    for image, caption in pairs:
        if image in images:
            captions.setdefault(image, []).append(caption)
        else:
            report.missing_images[image] += 1
    report.uncaptioned_images.extend(sorted(images - captions.keys()))
    return captions


def find_in(root: Path, names: tuple[str, ...], kind: str = "file") -> Path | None:
    """First of ``names`` found in ``root`` or ``root/Flickr8k_text``."""
    for folder in (root, root / "Flickr8k_text"):
        for name in names:
            path = folder / name
            if path.is_file() if kind == "file" else path.is_dir():
                return path
    return None


def _official_splits(root: Path) -> dict[str, list[str]] | None:
    paths = {split: find_in(root, (fname,)) for split, fname in SPLIT_FILES.items()}
    if not all(paths.values()):
        return None
    return {split: read_split_file(path) for split, path in paths.items()}


def _reader_split(name: str, split: str) -> str:
    """``split`` checked for ``name``; these readers make the official and 90/10 splits."""
    split = check_split(name, split)
    if split not in ("official", ORIGINAL_SPLIT):
        raise ValueError(
            f"Split {split!r} is read by load_dataset({name!r}, split={split!r}), "
            "from the Karpathy JSON file, not from this layout."
        )
    return split


def _finish(
    name: str,
    root: Path,
    layout: str,
    image_dir: Path,
    pairs: list[tuple[str, str]],
    split: str,
    listed_splits: dict[str, list[str]] | None,
    report: LoadReport,
) -> CaptionDataset:
    """Shared last step of every Flickr-style reader: group, split, check."""
    captions = _group_captions(pairs, list_images(image_dir), report)
    if not captions:
        raise DatasetError(
            f"No caption in {root} matches an image in {image_dir}. "
            "Are the images and the caption file from the same dataset?"
        )
    order = list(dict.fromkeys(image for image, _ in pairs if image in captions))
    if split == ORIGINAL_SPLIT:
        splits = original_split(order)
        report.notes.append(
            f"split {ORIGINAL_SPLIT!r}: the original tutorial's split, the first 90% of "
            "images train, the last 10% test (val = test)"
        )
    elif split == "official" and listed_splits is not None:
        splits = {s: _clean_split(s, listed_splits[s], captions, report) for s in SPLITS}
    else:
        splits = random_split(order)
        report.split_made = True
        report.notes.append(
            f"no official split files in {root}: made a reproducible 75/12.5/12.5% split. "
            f"Copy {', '.join(SPLIT_FILES.values())} there for the official split."
        )
    return CaptionDataset(name, root, layout, image_dir, captions, splits, report)


def read_official_layout(root: Path, split: str = "official", name: str = "flickr8k"):
    """Read the official Flickr8k layout in ``root`` (see the module docstring)."""
    split = _reader_split(name, split)
    report = LoadReport()
    token = find_in(root, (TOKEN_FILE,))
    image_dir = find_in(root, FLICKR8K_IMAGE_DIRS, kind="dir")
    if token is None or image_dir is None:
        raise DatasetNotFoundError(how_to_get(name, root))
    pairs = read_token_file(token, report)
    return _finish(name, root, "official", image_dir, pairs, split, _official_splits(root), report)


def read_kaggle_layout(root: Path, split: str = "official", name: str = "flickr8k"):
    """Read the Kaggle Flickr8k layout: ``Images/`` and ``captions.txt``."""
    split = _reader_split(name, split)
    report = LoadReport()
    pairs = read_kaggle_captions(root / "captions.txt", report)
    return _finish(
        name, root, "kaggle", root / "Images", pairs, split, _official_splits(root), report
    )


def read_karpathy_json(path: Path, image_dir: Path, name: str | None = None) -> CaptionDataset:
    """Read a Karpathy split file (``dataset_flickr8k.json``, ``..._flickr30k``, ``..._coco``).

    Its ``restval`` images (COCO) join the training split, as in Karpathy's code.
    Images whose file is not in ``image_dir`` are dropped and counted.
    """
    report = LoadReport()
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = data["images"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise DatasetError(
            f"{path} is not a Karpathy split file ({err}); it should hold "
            "{'images': [{'filename', 'split', 'sentences': [{'raw'}]}]}."
        ) from None
    captions: dict[str, list[str]] = {}
    relative: dict[str, str] = {}
    splits: dict[str, list[str]] = {s: [] for s in SPLITS}
    for index, entry in enumerate(entries):
        try:
            filename = entry["filename"]
            sentences = [s["raw"].strip() for s in entry["sentences"] if s["raw"].strip()]
            which = {"restval": "train"}.get(entry["split"], entry["split"])
        except (KeyError, TypeError, AttributeError):
            report.malformed_lines.append(f"{Path(path).name}: images[{index}]")
            continue
        rel = f"{entry['filepath']}/{filename}" if entry.get("filepath") else filename
        if not (image_dir / rel).is_file():
            report.missing_images[filename] += len(sentences)
            continue
        if which not in splits or not sentences:
            report.split_problems.append(f"images[{index}] {filename}: split {which!r}")
            continue
        captions[filename] = sentences
        splits[which].append(filename)
        if rel != filename:
            relative[filename] = rel
    if not captions:
        raise DatasetError(f"No image listed in {path} was found in {image_dir}.")
    dataset_name = name or str(data.get("dataset", "karpathy"))
    return CaptionDataset(
        dataset_name, Path(path).parent, "karpathy", image_dir, captions, splits, report, relative
    )


def how_to_get(name: str, root: Path) -> str:
    if name != "flickr8k":
        return (
            f"No {name} dataset found in {root}. Download it with "
            f"`python -m helpers.data download --dataset {name}` (docs/scaling.md says what it "
            f"costs), or put the Karpathy split file dataset_{name}.json there with the images "
            f"(see data/README.md), or work on {SHAPES_INSTEAD}."
        )
    return (
        f"No Flickr8k dataset found in {root}.\n"
        "Get it in one of these ways:\n"
        "  1. Download it (about 1 GB): load_dataset('flickr8k', download=True),\n"
        f"     or from a shell: python -m helpers.data download {root}\n"
        "  2. From Kaggle ('adityajn105/flickr8k'): unzip it there, giving Images/ "
        "and captions.txt.\n"
        f"  3. Work on {SHAPES_INSTEAD}.\n"
        "Expected Flicker8k_Dataset/ and Flickr8k.token.txt (official layout) "
        "or Images/ and captions.txt (Kaggle layout)."
    )


def detect_layout(root: Path) -> str | None:
    """``'official'``, ``'kaggle'`` or None, from the files present in ``root``."""
    if find_in(root, (TOKEN_FILE,)) and find_in(root, FLICKR8K_IMAGE_DIRS, kind="dir"):
        return "official"
    if (root / "captions.txt").is_file() and (root / "Images").is_dir():
        return "kaggle"
    return None
