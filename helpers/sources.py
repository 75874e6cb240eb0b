"""Beyond Flickr8k: where Flickr30k and COCO come from, their terms, and getting them.

Both come with Karpathy's split file (``dataset_flickr30k.json``,
``dataset_coco.json``: the splits every captioning paper uses), read by
:func:`helpers.layouts.read_karpathy_json`. :func:`download_dataset` gets them
through Flickr8k's tested path (:func:`helpers.download.fetch_and_unpack`):
the disk space checked first, each download resumable and checked before it is
unpacked, a clear message offline. ``python -m helpers.data download --dataset
coco`` does it from a shell; docs/scaling.md says what they cost.

* **COCO 2014**: its train and val image zips from cocodataset.org, and the
  split file. The images are about 20 GB of zips (estimate: cocodataset.org's
  listing), as much again unpacked, and the conv grid of 123,287 images is
  about 25 GB more (docs/scaling.md): more than a free Google Drive holds.
* **Flickr30k**: the split file is public; the images are given by their
  publisher to those who accept their terms (a form), so there is no public
  address to fetch them from. Put the zip you were given into
  ``data/flickr30k/downloads/`` as ``flickr30k-images.zip`` (its images in a
  ``flickr30k-images/`` folder; a ``.tar.gz`` repacked: ``tar xzf`` it, then
  ``zip -qr flickr30k-images.zip flickr30k-images``) and the same command
  checks and unpacks it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from helpers.dataset import DatasetError
from helpers.download import Archive, check_disk_space, fetch_and_unpack
from helpers.layouts import list_images

KARPATHY_URL = "https://cs.stanford.edu/people/karpathy/deepimagesent"
"""Karpathy's NeuralTalk page: ``caption_datasets.zip`` holds the three split files."""

COCO_URL = "http://images.cocodataset.org/zips"

FLICKR30K_FORM = "https://shannon.cs.illinois.edu/DenotationGraph/"
"""Where Flickr30k's images are requested, accepting its terms."""


@dataclass(frozen=True)
class Source:
    """A dataset beyond Flickr8k: its archives, what unpacking them gives, its terms."""

    name: str
    archives: tuple[Archive, ...]
    image_dirs: tuple[str, ...]  # folders (under the dataset's) the images unpack into
    images: int  # published: how many images the release has
    licence: str
    later: str = ""  # what comes after the download, said with a disk-space refusal

    @property
    def marker(self) -> str:
        return f".{self.name}-complete"


def _split_file(name: str) -> Archive:
    return Archive("caption_datasets.zip", KARPATHY_URL, "about 36 MB (estimate)",
                   members=(f"dataset_{name}.json",))


SOURCES = {
    "coco": Source(
        "coco",
        (_split_file("coco"),
         Archive("train2014.zip", COCO_URL, "about 13.5 GB (estimate)"),
         Archive("val2014.zip", COCO_URL, "about 6.6 GB (estimate)")),
        ("train2014", "val2014"), 123_287,
        "COCO's annotations are CC BY 4.0 (the COCO Consortium); each image keeps the licence "
        "its Flickr author gave it, listed in COCO's annotation files, and COCO's terms of use "
        "apply (cocodataset.org/#termsofuse). The split file is Karpathy's (NeuralTalk).",
        later=" After it, the conv grid of COCO's 123,287 images takes about 25 GB more "
              "(docs/scaling.md): more than a free Google Drive holds."),
    "flickr30k": Source(
        "flickr30k",
        (_split_file("flickr30k"),
         Archive("flickr30k-images.zip", None, "about 4 GB (estimate)")),
        ("flickr30k-images", "flickr30k_images"), 31_783,
        "Flickr30k is for non-commercial research and teaching, under the terms you accept "
        f"when you request it ({FLICKR30K_FORM}); each image belongs to its Flickr author. The "
        "split file is Karpathy's (NeuralTalk)."),
}
"""What :func:`download_dataset` gets; Flickr8k: :func:`helpers.download.download_flickr8k`."""


def download_dataset(name: str, root: str | Path, base_urls: dict[str, str] | None = None,
                     expected_images: int | None = None) -> Path:
    """Download (or resume), check and unpack Flickr30k or COCO into ``root``; returns ``root``.

    Says the dataset's terms and what each archive costs first, then checks
    the disk space. ``base_urls`` replaces an archive's folder URL by name (a
    mirror; the tests' local server). The folder is marked complete only when
    every archive is unpacked and the images are all there.
    """
    source = SOURCES[name]
    archives = [replace(a, base_url=(base_urls or {}).get(a.name, a.base_url))
                for a in source.archives]
    expected = expected_images or source.images
    root = Path(root).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    if (root / source.marker).exists():
        return root
    if (root / f"dataset_{name}.json").is_file() and _count(root, source) == expected:
        (root / source.marker).write_text("ok\n")  # unpacked by hand: nothing to fetch
        return root
    downloads = root / "downloads"
    for archive in archives:
        if archive.base_url is None and not (downloads / archive.name).is_file():
            raise DatasetError(
                f"{name}'s images have no public address: request them at {FLICKR30K_FORM} "
                f"(accepting the terms), then put {archive.name} into {downloads} and run the "
                f"same command again: it checks and unpacks it. The split file is fetched by "
                f"the same command. {source.licence}")
    missing = [a for a in archives if not (downloads / a.name).is_file()]
    if missing:  # the terms and the cost first, before gigabytes start to come
        print(f"{source.licence}\n{name} is not in {root} yet: downloading "
              + ", ".join(f"{a.name} ({a.said})" for a in missing)
              + f" into {downloads}, once (a finished zip is kept, a cut one resumes), then "
              "unpacking.", flush=True)
        check_disk_space(root, missing, source.later)
    fetch_and_unpack(root, archives)
    found = _count(root, source)
    if found != expected:
        raise DatasetError(
            f"Expected {expected:,} images in {root} ({' or '.join(source.image_dirs)}), found "
            f"{found:,}: an archive holds fewer than the release. Check the archives in "
            f"{downloads}; delete the one at fault (and its .unpacked- mark in {root}) and run "
            "the same command again: it fetches only what is missing.")
    (root / source.marker).write_text("ok\n")
    return root


def _count(root: Path, source: Source) -> int:
    """The images unpacked in ``root``'s image folders."""
    return sum(len(list_images(root / d)) for d in source.image_dirs if (root / d).is_dir())
