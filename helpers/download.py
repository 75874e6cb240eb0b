"""Downloading Flickr8k: two release zips, checked, then unpacked (notebook 01).

``keras.utils.get_file`` does the fetching (cache, progress bar, a hash check
where a digest is given). Each zip is checked before it is unpacked, and the
dataset folder is marked complete only when both are unpacked and the image
count is right, so running it again after any failure resumes the work.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from helpers.dataset import DatasetError
from helpers.layouts import FLICKR8K_IMAGE_DIRS, _find, detect_layout, list_images

# The official release of the series' data: two zips of the public
# jbrownlee/Datasets GitHub repository (release tag "Flickr8k").
FLICKR8K_URL = "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k"


FLICKR8K_ZIPS = ("Flickr8k_Dataset.zip", "Flickr8k_text.zip")


FLICKR8K_IMAGES = 8091


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
