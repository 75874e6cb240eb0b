"""Downloading Flickr8k: two release zips, checked, then unpacked (notebook 01).

``keras.utils.get_file`` does the fetching (cache, progress bar, a SHA-256
check where a digest is set in :data:`FLICKR8K_SHA256`). Each zip is checked
before it is unpacked: its size where one is set in :data:`FLICKR8K_SIZES`,
then every member's CRC (``zipfile.ZipFile.testzip``). Only a zip that is
really damaged is deleted and fetched again; a full disk or a permission
error keeps the zip and says what to do. The dataset folder is marked
complete only when both are unpacked and the image count is right, so running
it again after any failure resumes the work.
"""

from __future__ import annotations

import errno
import hashlib
import shutil
import urllib.error
import zipfile
import zlib
from pathlib import Path

from helpers.dataset import DatasetError
from helpers.layouts import FLICKR8K_IMAGE_DIRS, detect_layout, find_in, list_images
from helpers.runtime import native_logs_to_file
from helpers.settings import SHAPES_INSTEAD

# The official release of the series' data: two zips of the public
# jbrownlee/Datasets GitHub repository (release tag "Flickr8k").
FLICKR8K_URL = "https://github.com/jbrownlee/Datasets/releases/download/Flickr8k"


FLICKR8K_ZIPS = ("Flickr8k_Dataset.zip", "Flickr8k_text.zip")


# What each zip costs, said before its download starts (estimate: the release's
# listing; the images zip is almost all of it).
FLICKR8K_ZIP_SIZES_SAID = {"Flickr8k_Dataset.zip": "about 1 GB",
                           "Flickr8k_text.zip": "about 2 MB"}


# No digest or size of these zips is published, so none is assumed: a wrong one
# would refuse every good download. Set one (hex SHA-256, bytes) to check it.
FLICKR8K_SHA256: dict[str, str | None] = {name: None for name in FLICKR8K_ZIPS}


FLICKR8K_SIZES: dict[str, int | None] = {name: None for name in FLICKR8K_ZIPS}


FLICKR8K_IMAGES = 8091


_DONE_MARKER = ".flickr8k-complete"


class _DamagedZip(Exception):
    """The zip itself is bad (not a zip, cut short, a bad CRC, wrong size or hash)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_zip(archive: Path, size: int | None = None) -> None:
    """Check ``archive`` before it is unpacked: its size (if given) and every member's CRC.

    Raises ``_DamagedZip`` for a zip that is really damaged; an ``OSError``
    (a disk or permission problem, not the zip's fault) passes through.
    """
    actual = archive.stat().st_size
    if size is not None and actual != size:
        raise _DamagedZip(f"it is {actual} bytes, not the expected {size}")
    try:
        with zipfile.ZipFile(archive) as zf:
            bad_member = zf.testzip()
    except (zipfile.BadZipFile, EOFError, zlib.error) as err:
        raise _DamagedZip(str(err) or type(err).__name__) from err
    if bad_member is not None:
        raise _DamagedZip(f"its member {bad_member} fails the CRC check")


def _disk_error(path: Path, err: OSError, doing: str, folder: Path) -> DatasetError:
    """A message for an ``OSError`` of the local disk: what failed, where, and what to do."""
    try:
        free = f" ({shutil.disk_usage(folder).free / 1e9:.1f} GB free there now)"
    except OSError:
        free = ""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        advice = f"Free some disk space in {folder}{free}"
        if path.is_file():
            advice += f": unpacking needs about {path.stat().st_size / 1e9:.1f} GB, the zip's size"
    elif isinstance(err, PermissionError) or err.errno == errno.EROFS:
        advice = f"Make {folder} writable (check its permissions) or choose another folder"
    else:
        advice = f"Check the disk that holds {folder}{free}"
    kept = ": the zip is kept" if path.is_file() else ""
    return DatasetError(
        f"Could not {doing} {path}: {err.strerror or err}. This is a problem of the local "
        f"disk, not of the download{kept}. {advice}, then run the same command again."
    )


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
                try:
                    zf.extract(member, staging)
                except (zipfile.BadZipFile, EOFError, zlib.error) as err:  # a bad CRC
                    raise _DamagedZip(f"{member.filename}: {err}") from err
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
    """``keras.utils.get_file`` with the digest of :data:`FLICKR8K_SHA256`, if one is set.

    Raises ``_DamagedZip`` when the file arrived but its digest is wrong (the
    file is left for the caller to delete), :class:`DatasetError` otherwise.
    """
    with native_logs_to_file():  # TensorFlow's start-up lines go to a log file, not here
        from keras.utils import get_file  # imported here: loading data needs no TensorFlow

    digest = FLICKR8K_SHA256.get(zip_name)
    target = downloads / zip_name
    try:
        return Path(
            get_file(
                fname=zip_name,
                origin=f"{base_url}/{zip_name}",
                cache_dir=str(downloads.parent),
                cache_subdir=downloads.name,
                force_download=force,
                file_hash=digest,
                hash_algorithm="sha256" if digest else "auto",
            )
        )
    except Exception as err:
        actual = _sha256(target) if digest and target.is_file() else None
        if actual is not None and actual != digest.lower():
            raise _DamagedZip(
                f"its SHA-256 is {actual}, not {digest} as "
                f"helpers.download.FLICKR8K_SHA256[{zip_name!r}] says"
            ) from err
        if isinstance(err, OSError) and (
            isinstance(err, PermissionError)
            or err.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
        ):
            raise _disk_error(target, err, "write", downloads) from err
        # keras' get_file says "URL fetch failure on <url>: None -- <reason>" over a
        # chain of three tracebacks: the reason alone, and no chain, for the learner
        cause = err.__context__
        if isinstance(cause, urllib.error.HTTPError):
            why = f"HTTP {cause.code} {cause.reason}"
        elif isinstance(cause, urllib.error.URLError):
            why = str(cause.reason)
        else:
            why = str(err)
        raise DatasetError(
            f"Could not download {base_url}/{zip_name} ({why}).\n"
            "Check the internet connection and run the same command again: finished "
            f"files are kept. Without internet, copy the two zips into {downloads} (or "
            f"the extracted files into {downloads.parent}), or use {SHAPES_INSTEAD}."
        ) from None


def download_flickr8k(
    root: str | Path,
    base_url: str | None = None,
    expected_images: int | None = None,
) -> Path:
    """Download, check and unpack Flickr8k's two release zips into ``root`` (official layout).

    Uses ``keras.utils.get_file``: zips already in ``root/downloads`` are not
    fetched again, and a download shows a progress bar. Each zip is checked
    before it is unpacked (:func:`check_zip`, and the digest of
    :data:`FLICKR8K_SHA256` where one is set). A zip that is really damaged
    (cut short, not a zip, a bad CRC, the wrong size or digest) is deleted and
    fetched once more; a full disk or a permission error keeps the zip and
    raises a :class:`DatasetError` that says what to do. The folder is marked
    complete only after both zips are unpacked and the image count checked,
    so running this again after any failure resumes the work. Taught in
    notebook 01.
    """
    base_url = base_url or FLICKR8K_URL  # read now, so a mirror can be set on the module
    expected_images = expected_images or FLICKR8K_IMAGES
    root = Path(root).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / _DONE_MARKER
    if marker.exists() and detect_layout(root) == "official":
        return root
    downloads = root / "downloads"
    missing = [z for z in FLICKR8K_ZIPS if not (downloads / z).is_file()]
    if missing:  # the cost first, before a download of about 1 GB starts
        print(f"Flickr8k is not in {root} yet: downloading "
              + " and ".join(f"{z} ({FLICKR8K_ZIP_SIZES_SAID[z]})" for z in missing)
              + f" into {downloads}, once (a finished zip is kept), then unpacking.", flush=True)
    for zip_name in FLICKR8K_ZIPS:
        for attempt in (1, 2):
            archive = downloads / zip_name
            try:
                archive = _fetch(zip_name, base_url, downloads, force=attempt > 1)
                check_zip(archive, FLICKR8K_SIZES.get(zip_name))
                _extract_zip(archive, root)
                break
            except _DamagedZip as err:
                archive.unlink(missing_ok=True)
                if attempt == 2:
                    set_here = FLICKR8K_SHA256.get(zip_name) or FLICKR8K_SIZES.get(zip_name)
                    raise DatasetError(
                        f"{archive} is damaged ({err}), even after downloading it again, so "
                        "it was deleted. The server may be sending an error page: download it "
                        f"in a browser from {base_url}/{zip_name} and put it in {downloads}."
                        + (
                            " Check the digest or size set for it in FLICKR8K_SHA256 or "
                            "FLICKR8K_SIZES (helpers.download) too."
                            if set_here
                            else ""
                        )
                    ) from err
            except OSError as err:  # the local disk, not the zip: keep it
                raise _disk_error(archive, err, "check or unpack", root) from err
    image_dir = find_in(root, FLICKR8K_IMAGE_DIRS, kind="dir")
    found = len(list_images(image_dir)) if image_dir else 0
    if found != expected_images:
        raise DatasetError(
            f"Expected {expected_images} images in {root}/Flicker8k_Dataset, found {found}. "
            f"Delete {downloads} and download again."
        )
    marker.write_text("ok\n")
    return root
