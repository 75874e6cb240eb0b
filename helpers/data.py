"""Load an image-captioning dataset: captions, splits, image paths (notebook 01).

One function, :func:`load_dataset`, reads every layout the series supports and
returns the same :class:`CaptionDataset`:

* **Flickr8k, official layout** (what the classic tutorials use)::

      Flicker8k_Dataset/*.jpg            (spelled so)
      Flickr8k.token.txt                 <image>.jpg#<0-4><TAB><caption>
      Flickr_8k.{train,dev,test}Images.txt
      (the text files may sit in a Flickr8k_text/ subfolder)

* **Flickr8k, Kaggle layout**: ``Images/`` and ``captions.txt`` (CSV with the
  header ``image,caption``; captions may contain commas).
* **Karpathy split JSON** (``dataset_flickr8k.json``, ``dataset_flickr30k.json``,
  ``dataset_coco.json``): ``images[].filename``, ``split``, ``sentences[].raw``.
* **The shapes world** (:mod:`helpers.shapes`), generated on first use in the
  official layout, so the same reader serves it.

Nothing is dropped silently: what the loader leaves out (captions of images
that are not in the image folder, duplicate lines, malformed lines) is
counted in ``dataset.report``, and a warning says so.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from helpers.config import Settings, get_settings

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
SPLITS = ("train", "val", "test")

# The official release of the series' data: two zips of the public
# jbrownlee/Datasets GitHub repository (release tag "Flickr8k").
FLICKR8K_URL = "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k"
FLICKR8K_ZIPS = ("Flickr8k_Dataset.zip", "Flickr8k_text.zip")
FLICKR8K_IMAGES = 8091
FLICKR8K_IMAGE_DIRS = ("Flicker8k_Dataset", "Flickr8k_Dataset")
TOKEN_FILE = "Flickr8k.token.txt"
SPLIT_FILES = {
    "train": "Flickr_8k.trainImages.txt",
    "val": "Flickr_8k.devImages.txt",
    "test": "Flickr_8k.testImages.txt",
}


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
        return (
            f"CaptionDataset({self.name!r}, layout={self.layout!r}, images={len(self.captions)}, "
            f"captions={self.num_captions}, train/val/test={sizes}, root='{self.root}')"
        )


# --------------------------------------------------------------------------
# Reading the text files
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# Putting captions, images and splits together
# --------------------------------------------------------------------------


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


def seed_split(order: list[str], train_fraction: float = 0.9) -> dict[str, list[str]]:
    """The seed tutorial's split: the first 90% of images (file order) train, the rest test.

    The seed had no validation set; here ``"val"`` is the same images as
    ``"test"``, as it was in the seed, so scores are comparable with it
    (and optimistic, since checkpoints are chosen on the test images).
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


def _find(root: Path, names: tuple[str, ...], kind: str = "file") -> Path | None:
    """First of ``names`` found in ``root`` or ``root/Flickr8k_text``."""
    for folder in (root, root / "Flickr8k_text"):
        for name in names:
            path = folder / name
            if path.is_file() if kind == "file" else path.is_dir():
                return path
    return None


def _official_splits(root: Path) -> dict[str, list[str]] | None:
    paths = {split: _find(root, (fname,)) for split, fname in SPLIT_FILES.items()}
    if not all(paths.values()):
        return None
    return {split: read_split_file(path) for split, path in paths.items()}


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
    if split == "seed":
        splits = seed_split(order)
        report.notes.append("split 'seed': first 90% train, last 10% test (val = test)")
    elif split == "official" and listed_splits is not None:
        splits = {s: _clean_split(s, listed_splits[s], captions, report) for s in SPLITS}
    elif split == "official":
        splits = random_split(order)
        report.split_made = True
        report.notes.append(
            f"no official split files in {root}: made a reproducible 75/12.5/12.5% split. "
            f"Copy {', '.join(SPLIT_FILES.values())} there for the official split."
        )
    else:
        raise ValueError(f"Unknown split {split!r}: use 'official', 'seed' or 'karpathy'.")
    return CaptionDataset(name, root, layout, image_dir, captions, splits, report)


def read_official_layout(root: Path, split: str = "official", name: str = "flickr8k"):
    """Read the official Flickr8k layout in ``root`` (see the module docstring)."""
    report = LoadReport()
    token = _find(root, (TOKEN_FILE,))
    image_dir = _find(root, FLICKR8K_IMAGE_DIRS, kind="dir")
    if token is None or image_dir is None:
        raise DatasetNotFoundError(_how_to_get(name, root))
    pairs = read_token_file(token, report)
    return _finish(name, root, "official", image_dir, pairs, split, _official_splits(root), report)


def read_kaggle_layout(root: Path, split: str = "official", name: str = "flickr8k"):
    """Read the Kaggle Flickr8k layout: ``Images/`` and ``captions.txt``."""
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


def _how_to_get(name: str, root: Path) -> str:
    if name != "flickr8k":
        return (
            f"No {name} dataset found in {root}. Put the Karpathy split file "
            f"dataset_{name}.json there with the images (see data/README.md), "
            "or work offline on the shapes world: CAPTION_DATASET=shapes."
        )
    return (
        f"No Flickr8k dataset found in {root}.\n"
        "Get it in one of these ways:\n"
        "  1. Download it (about 1 GB): load_dataset('flickr8k', download=True),\n"
        f"     or from a shell: python -m helpers.data download {root}\n"
        "  2. From Kaggle ('adityajn105/flickr8k'): unzip it there, giving Images/ "
        "and captions.txt.\n"
        "  3. Work offline on the synthetic shapes world: CAPTION_DATASET=shapes.\n"
        "Expected Flicker8k_Dataset/ and Flickr8k.token.txt (official layout) "
        "or Images/ and captions.txt (Kaggle layout)."
    )


def detect_layout(root: Path) -> str | None:
    """``'official'``, ``'kaggle'`` or None, from the files present in ``root``."""
    if _find(root, (TOKEN_FILE,)) and _find(root, FLICKR8K_IMAGE_DIRS, kind="dir"):
        return "official"
    if (root / "captions.txt").is_file() and (root / "Images").is_dir():
        return "kaggle"
    return None


def dataset_missing(settings: Settings) -> bool:
    """Whether the run's dataset still has to be made (shapes) or downloaded (Flickr8k)."""
    if settings.dataset == "shapes":
        return not (settings.dataset_dir / "shapes_world.json").exists()
    if settings.dataset == "flickr8k":
        return detect_layout(settings.dataset_dir) is None
    return not settings.dataset_dir.exists()


def load_dataset(
    name: str | Settings | None = None,
    root: str | Path | None = None,
    split: str = "official",
    download: bool = False,
    **shapes_options: int,
) -> CaptionDataset:
    """Load a captioning dataset in whichever supported layout it is stored.

    Args:
        name: the :class:`~helpers.config.Settings` of the run (its dataset,
            data folder and shapes-world size are used, nothing is read from
            the environment), or a dataset name, ``"flickr8k"``, ``"shapes"``,
            ``"flickr30k"`` or ``"coco"``, with the other settings from the
            environment; by default the ``CAPTION_DATASET`` setting.
        root: the folder that holds the dataset's files; by default
            ``<data dir>/<name>``.
        split: ``"official"`` (Flickr8k's 6000/1000/1000 lists), ``"seed"``
            (the seed tutorial's 90%/10%) or ``"karpathy"`` (the split in a
            ``dataset_<name>.json`` in ``root``).
        download: fetch Flickr8k with :func:`download_flickr8k` when it is missing.
        shapes_options: ``n_images`` (default: the ``CAPTION_SHAPES_IMAGES``
            setting) and ``seed`` of the shapes world.

    Loading reports what it dropped in ``dataset.report``, and warns when it
    dropped captions or split entries, or had to make a split because the split
    files are missing. A missing dataset raises
    :class:`DatasetNotFoundError`, whose message says how to get it.
    """
    if isinstance(name, Settings):
        settings = name
    else:
        settings = get_settings(**({"dataset": name} if name else {}))
    name = settings.dataset
    root = Path(root).expanduser().resolve() if root is not None else settings.dataset_dir

    if name == "shapes":
        from helpers.shapes import make_shapes_world

        shapes_options.setdefault("n_images", settings.shapes_images)
        make_shapes_world(root, **shapes_options)
        dataset = read_official_layout(root, split=split, name="shapes")
    elif split == "karpathy" or name in ("flickr30k", "coco"):
        json_path = root / f"dataset_{name}.json"
        if not json_path.is_file():
            raise DatasetNotFoundError(_how_to_get(name, root))
        image_dirs = [*FLICKR8K_IMAGE_DIRS, "Images", f"{name}_images", "images"]
        image_dir = next((root / d for d in image_dirs if (root / d).is_dir()), root)
        dataset = read_karpathy_json(json_path, image_dir, name=name)
    else:
        layout = detect_layout(root)
        if layout is None and download:
            download_flickr8k(root)
            layout = detect_layout(root)
        if layout is None:
            raise DatasetNotFoundError(_how_to_get(name, root))
        reader = read_official_layout if layout == "official" else read_kaggle_layout
        dataset = reader(root, split=split, name=name)

    report = dataset.report
    if report.dropped_captions or report.split_problems or report.split_made:
        warnings.warn(f"{name} in {root}: {report}", stacklevel=2)
    return dataset


# --------------------------------------------------------------------------
# Downloading Flickr8k
# --------------------------------------------------------------------------

_DONE_MARKER = ".flickr8k-complete"


def _extract_zip(archive: Path, target: Path) -> None:
    """Extract ``archive`` into ``target``, leaving out macOS ``__MACOSX``/``._*`` files.

    Extraction goes to a temporary folder first and is moved into place only
    when every member has been read and its checksum verified, so an
    interrupted extraction never looks complete.
    """
    staging = target / f".extracting-{archive.stem}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.infolist():
                parts = Path(member.filename).parts
                if not parts or parts[0] == "__MACOSX" or parts[-1].startswith("._"):
                    continue
                zf.extract(member, staging)  # raises BadZipFile on a bad checksum
        for entry in staging.iterdir():
            destination = target / entry.name
            if destination.is_dir():
                shutil.rmtree(destination)
            elif destination.exists():
                destination.unlink()
            entry.rename(destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _fetch(zip_name: str, base_url: str, downloads: Path, force: bool) -> Path:
    from keras.utils import get_file  # imported here: loading data needs no TensorFlow

    try:
        return Path(
            get_file(
                fname=zip_name,
                origin=f"{base_url}/{zip_name}",
                cache_dir=str(downloads.parent),
                cache_subdir=downloads.name,
                force_download=force,
            )
        )
    except Exception as err:
        raise DatasetError(
            f"Could not download {base_url}/{zip_name}: {err}\n"
            "Check the internet connection and run the same command again: finished "
            "files are kept. Without internet, copy the two zips (or the extracted files) "
            f"into {downloads.parent}, or use CAPTION_DATASET=shapes."
        ) from err


def download_flickr8k(
    root: str | Path,
    base_url: str | None = None,
    expected_images: int | None = None,
) -> Path:
    """Download and unpack Flickr8k's two release zips into ``root`` (official layout).

    Uses ``keras.utils.get_file``: zips already in ``root/downloads`` are not
    fetched again, and a download shows a progress bar. A download that was
    interrupted leaves no file behind (Keras removes it); a zip that is
    nevertheless truncated or corrupt is deleted and fetched once more. The
    folder is marked complete only after both zips are extracted and the image
    count checked, so running this again after any failure resumes the work.
    """
    base_url = base_url or FLICKR8K_URL  # read now, so a mirror can be set on the module
    expected_images = expected_images or FLICKR8K_IMAGES
    root = Path(root).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / _DONE_MARKER
    if marker.exists() and detect_layout(root) == "official":
        return root
    downloads = root / "downloads"
    for zip_name in FLICKR8K_ZIPS:
        for attempt in (1, 2):
            archive = _fetch(zip_name, base_url, downloads, force=attempt > 1)
            try:
                _extract_zip(archive, root)
                break
            except (zipfile.BadZipFile, EOFError, OSError) as err:
                archive.unlink(missing_ok=True)
                if attempt == 2:
                    raise DatasetError(
                        f"{archive} is not a valid zip ({err}), even after downloading it "
                        "again. The server may be sending an error page: download it in a "
                        f"browser from {base_url}/{zip_name} and put it in {downloads}."
                    ) from err
    image_dir = _find(root, FLICKR8K_IMAGE_DIRS, kind="dir")
    found = len(list_images(image_dir)) if image_dir else 0
    if found != expected_images:
        raise DatasetError(
            f"Expected {expected_images} images in {root}/Flicker8k_Dataset, found {found}. "
            f"Delete {downloads} and download again."
        )
    marker.write_text("ok\n")
    return root


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.data download [ROOT]``: fetch Flickr8k from a shell."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "download":
        print("usage: python -m helpers.data download [ROOT]")
        return 2
    root = Path(args[1]) if len(args) > 1 else get_settings(dataset="flickr8k").dataset_dir
    print(load_dataset("flickr8k", root=download_flickr8k(root)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
