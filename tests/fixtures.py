"""Small datasets that tests write on the fly, in the layouts the loaders read."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from PIL import Image


def write_jpeg(path: Path, colour=(200, 30, 30), mode: str = "RGB", size=(32, 24)) -> Path:
    """A tiny real image file (any PIL mode; saved as PNG when the suffix says so)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", size, colour).convert(mode)
    image.save(path, format="PNG" if path.suffix == ".png" else "JPEG")
    return path


def sample_captions(n_images: int = 8) -> dict[str, list[str]]:
    """Five captions per image, some with commas and quotes, as in Flickr8k."""
    return {
        f"{1000 + i}_abc{i}.jpg": [
            f"A dog number {i} , running .",
            f"A brown dog, {i} years old, jumps",
            'A "happy" dog plays in the snow .',
            "Two dogs, one ball .",
            f"Fifth caption for image {i} .",
        ]
        for i in range(n_images)
    }


def write_official(
    root: Path,
    captions: dict[str, list[str]],
    splits: dict[str, list[str]] | None = None,
    text_subfolder: bool = False,
    extra_lines: list[str] = (),
) -> Path:
    """Flickr8k's official layout: images in Flicker8k_Dataset/, token and split files."""
    text_dir = root / "Flickr8k_text" if text_subfolder else root
    text_dir.mkdir(parents=True, exist_ok=True)
    for name in captions:
        write_jpeg(root / "Flicker8k_Dataset" / name)
    lines = [f"{name}#{k}\t{c}" for name, cs in captions.items() for k, c in enumerate(cs)]
    (text_dir / "Flickr8k.token.txt").write_text("\n".join([*lines, *extra_lines]) + "\n")
    if splits is not None:
        for split, fname in (
            ("train", "trainImages"),
            ("val", "devImages"),
            ("test", "testImages"),
        ):
            (text_dir / f"Flickr_8k.{fname}.txt").write_text("\n".join(splits[split]) + "\n")
    return root


def write_kaggle(root: Path, captions: dict[str, list[str]], quote: bool = False) -> Path:
    """Kaggle's layout: Images/ and captions.txt ("image,caption" CSV)."""
    root.mkdir(parents=True, exist_ok=True)
    for name in captions:
        write_jpeg(root / "Images" / name)
    if quote:  # a CSV writer quotes captions that contain commas or quotes
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["image", "caption"])
        writer.writerows((n, c) for n, cs in captions.items() for c in cs)
        text = buffer.getvalue()
    else:  # raw lines, commas inside captions left as they are
        text = "image,caption\n" + "".join(f"{n},{c}\n" for n, cs in captions.items() for c in cs)
    (root / "captions.txt").write_text(text)
    return root


def write_karpathy(path: Path, entries: list[dict]) -> Path:
    """A Karpathy split file with the given ``images`` entries."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"dataset": "flickr8k", "images": entries}))
    return path


def release_zips(folder: Path, captions: dict[str, list[str]], splits: dict[str, list[str]]):
    """The two Flickr8k release zips, with their __MACOSX folders, built in ``folder``."""
    staging = folder / "staging"
    write_official(staging, captions, splits)
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(folder / "Flickr8k_Dataset.zip", "w") as zf:
        for image in sorted((staging / "Flicker8k_Dataset").iterdir()):
            zf.write(image, f"Flicker8k_Dataset/{image.name}")
            zf.writestr(f"__MACOSX/Flicker8k_Dataset/._{image.name}", b"\x00\x05\x16\x07")
    with zipfile.ZipFile(folder / "Flickr8k_text.zip", "w") as zf:
        for text in sorted(staging.glob("*.txt")):
            zf.write(text, text.name)
            zf.writestr(f"__MACOSX/._{text.name}", b"\x00\x05\x16\x07")
    return folder


TRIMMED_FLICKR8K = Path(__file__).parent / "flickr8k_trimmed"
"""Real Flickr8k text lines cut to nine images, flaws kept (see its README.md)."""


FLICKR8K_MISSING_IMAGE = "2258277193_586949ec62.jpg"
"""The one image of Flickr8k's caption file that its image folder lacks."""


def trimmed_flickr8k(root: Path, layout: str = "official", with_missing: bool = False) -> Path:
    """The trimmed real Flickr8k text files in ``root``, with a tiny JPEG per image.

    ``layout="official"`` copies the token and split files into
    ``root/Flickr8k_text`` and writes ``Flicker8k_Dataset/``; ``"kaggle"``
    copies only ``captions.txt`` (Kaggle's copy has no split files) and writes
    ``Images/``. As in the real folder, the missing image gets no file unless
    ``with_missing``.
    """
    text_dir, image_dir = (
        (root / "Flickr8k_text", root / "Flicker8k_Dataset")
        if layout == "official"
        else (root, root / "Images")
    )
    text_dir.mkdir(parents=True, exist_ok=True)
    sources = (
        ["captions.txt"]
        if layout == "kaggle"
        else ["Flickr8k.token.txt", *(p.name for p in TRIMMED_FLICKR8K.glob("Flickr_8k.*"))]
    )
    for name in sources:
        (text_dir / name).write_bytes((TRIMMED_FLICKR8K / name).read_bytes())
    token_lines = (TRIMMED_FLICKR8K / "Flickr8k.token.txt").read_text().splitlines()
    images = {line.split("#")[0].removesuffix(".1") for line in token_lines}
    for k, image in enumerate(sorted(images)):
        if image != FLICKR8K_MISSING_IMAGE or with_missing:
            write_jpeg(image_dir / image, colour=(20 * k, 100, 200 - 20 * k), size=(8, 6))
    return root
