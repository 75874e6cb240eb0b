"""Load an image-captioning dataset: captions, splits, image paths (notebook 01).

One function, :func:`load_dataset`, reads every layout the series supports and
returns the same :class:`CaptionDataset`:

* Flickr8k in its official layout or Kaggle's, and the Karpathy split JSON of
  Flickr8k, Flickr30k or COCO (:mod:`helpers.layouts` reads each one);
* **The shapes world** (:mod:`helpers.shapes`), generated on first use in the
  official layout, so the same reader serves it.

Nothing is dropped silently: what the loader leaves out (captions of images
that are not in the image folder, duplicate lines, malformed lines) is
counted in ``dataset.report``, and a warning says so.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from helpers.dataset import CaptionDataset, DatasetError, DatasetNotFoundError, check_split
from helpers.download import download_flickr8k
from helpers.layouts import (
    FLICKR8K_IMAGE_DIRS,
    detect_layout,
    how_to_get,
    read_kaggle_layout,
    read_karpathy_json,
    read_official_layout,
)
from helpers.settings import Settings, get_settings
from helpers.shapes import make_shapes_world
from helpers.sources import SOURCES, download_dataset


def dataset_missing(settings: Settings) -> bool:
    """Whether the run's dataset still has to be made (shapes) or downloaded (Flickr8k)."""
    if settings.dataset == "shapes":
        return not (settings.dataset_dir / "shapes_world.json").exists()
    if settings.dataset == "flickr8k":
        return detect_layout(settings.dataset_dir) is None
    if settings.dataset in SOURCES:  # complete only when every archive is unpacked
        return not (settings.dataset_dir / SOURCES[settings.dataset].marker).exists()
    return not settings.dataset_dir.exists()


def load_dataset(
    name: str | Settings | None = None,
    root: str | Path | None = None,
    split: str | None = None,
    download: bool = False,
    **shapes_options: int,
) -> CaptionDataset:
    """Load a captioning dataset in whichever supported layout it is stored.

    Args:
        name: the :class:`~helpers.settings.Settings` of the run (its dataset,
            data folder and shapes-world size are used, nothing is read from
            the environment), or a dataset name, ``"flickr8k"``, ``"shapes"``,
            ``"flickr30k"`` or ``"coco"``, with the other settings from the
            environment; by default the ``CAPTION_DATASET`` setting.
        root: the folder that holds the dataset's files; by default
            ``<data dir>/<name>``.
        split: ``"official"`` (Flickr8k's 6000/1000/1000 lists), ``"90/10"``
            (the original tutorial's split: the first 90% of images train, the
            last 10% test) or ``"karpathy"`` (the split in a
            ``dataset_<name>.json`` in ``root``). Each dataset offers some of
            these (:data:`~helpers.dataset.SPLITS_OFFERED`), and a name it does
            not offer is refused before any file is read. By default the
            dataset's own: ``"official"``, or ``"karpathy"`` for Flickr30k and COCO.
            The old name ``"seed"`` still means ``"90/10"``, with a ``FutureWarning``.
        download: fetch the dataset when it is missing: Flickr8k with
            :func:`download_flickr8k`, Flickr30k and COCO with
            :func:`helpers.sources.download_dataset`.
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
    split = check_split(name, split)
    root = Path(root).expanduser().resolve() if root is not None else settings.dataset_dir

    if name == "shapes":
        shapes_options.setdefault("n_images", settings.shapes_images)
        make_shapes_world(root, **shapes_options)
        dataset = read_official_layout(root, split=split, name="shapes")
    elif split == "karpathy":
        json_path = root / f"dataset_{name}.json"
        if download and name in SOURCES:  # at once when complete; else resumes the download
            download_dataset(name, root)
        if not json_path.is_file():
            raise DatasetNotFoundError(how_to_get(name, root))
        image_dirs = [*FLICKR8K_IMAGE_DIRS, "Images", f"{name}_images", f"{name}-images",
                      "images"]
        image_dir = next((root / d for d in image_dirs if (root / d).is_dir()), root)
        dataset = read_karpathy_json(json_path, image_dir, name=name)
    else:
        layout = detect_layout(root)
        if layout is None and download:
            download_flickr8k(root)
            layout = detect_layout(root)
        if layout is None:
            raise DatasetNotFoundError(how_to_get(name, root))
        reader = read_official_layout if layout == "official" else read_kaggle_layout
        dataset = reader(root, split=split, name=name)

    report = dataset.report
    if report.dropped_captions or report.split_problems or report.split_made:
        warnings.warn(f"{name} in {root}: {report}", stacklevel=2)
    return dataset


def main(argv: list[str] | None = None) -> int:
    """``python -m helpers.data download [ROOT] [--dataset NAME]``: a dataset from a shell
    (Flickr8k: notebook 01; Flickr30k and COCO: docs/scaling.md)."""
    parser = argparse.ArgumentParser(
        prog="python -m helpers.data",
        description="Get the series' datasets from a shell.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fetch = commands.add_parser(
        "download",
        help="download and unpack a dataset (Flickr8k: about 1 GB), checked before it is "
             "unpacked",
        description="Download a dataset's archives (resuming a cut download), check them and "
                    "unpack them. COCO is about 20 GB; Flickr30k's images must be requested "
                    "first (docs/scaling.md).",
    )
    fetch.add_argument(
        "root",
        nargs="?",
        type=Path,
        help="the folder to put the dataset in (default: <CAPTION_DATA_DIR>/<dataset>)",
    )
    fetch.add_argument("--dataset", choices=["flickr8k", *SOURCES], default="flickr8k",
                       help="which dataset (default: flickr8k)")
    args = parser.parse_args(argv)
    root = args.root or get_settings(dataset=args.dataset).dataset_dir
    try:
        if args.dataset == "flickr8k":
            root = download_flickr8k(root)
        else:
            root = download_dataset(args.dataset, root)
    except DatasetError as err:  # what to do, without a traceback
        print(err, file=sys.stderr)
        return 1
    print(load_dataset(args.dataset, root=root))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
