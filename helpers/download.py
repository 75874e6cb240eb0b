"""Downloading a dataset's zips, checked, then unpacked: Flickr8k here (notebook 01).

One path serves every dataset (:func:`fetch_and_unpack`; Flickr30k and COCO in
:mod:`helpers.sources`). The disk space is checked first. A download shows a
progress bar, and one cut short resumes where it stopped (an HTTP ``Range``
request), then is checked against its SHA-256 where one is set (for
Flickr8k in :data:`FLICKR8K_SHA256`). Each zip is checked
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
import http.client
import shutil
import ssl
import sys
import urllib.error
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from helpers.dataset import DatasetError
from helpers.layouts import FLICKR8K_IMAGE_DIRS, detect_layout, find_in, list_images
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
        if path.is_file() and path.suffix != ".part":
            advice += f": unpacking needs about {path.stat().st_size / 1e9:.1f} GB, the zip's size"
    elif isinstance(err, PermissionError) or err.errno == errno.EROFS:
        advice = f"Make {folder} writable (check its permissions) or choose another folder"
    else:
        advice = f"Check the disk that holds {folder}{free}"
    kept = ((": what came is kept" if path.suffix == ".part" else ": the zip is kept")
            if path.is_file() else "")
    return DatasetError(
        f"Could not {doing} {path}: {err.strerror or err}. This is a problem of the local "
        f"disk, not of the download{kept}. {advice}, then run the same command again."
    )


def _extract_zip(archive: Path, target: Path, members: tuple[str, ...] = ()) -> None:
    """Extract ``archive`` into ``target``, leaving out macOS ``__MACOSX``/``._*`` files
    (and, where ``members`` names some, every other member).

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
                if members and member.filename not in members:
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


class _CutShort(Exception):
    """The connection ended before the whole file came: what came is kept, to resume."""


def _save(response, out, have: int, total: int | None, name: str) -> None:
    """Copy ``response`` into the open file ``out``, 1 MB at a time, with a progress bar."""
    from tqdm import tqdm

    with tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=name,
              file=sys.stdout, mininterval=2, disable=total is not None and total < 1 << 24) as bar:
        while chunk := response.read(1 << 20):
            out.write(chunk)
            bar.update(len(chunk))


def _fetch(zip_name: str, base_url: str, downloads: Path, force: bool,
           digest: str | None = None) -> Path:
    """Download ``base_url/zip_name`` into ``downloads``, resuming a download cut short.

    What arrives is written to ``<zip>.part``; an interrupted download keeps it,
    and the next call asks the server for the rest only (an HTTP ``Range``
    request; a server that ignores it sends everything again). The file takes
    its name only when complete, checked against ``digest`` (its SHA-256) where
    one is set. Raises ``_DamagedZip`` for a wrong digest (the file is left for
    the caller to delete), :class:`DatasetError` otherwise.
    """
    target = downloads / zip_name
    part = downloads / f"{zip_name}.part"
    url = f"{base_url}/{zip_name}"
    if force:
        target.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
    if not target.is_file():
        _download(url, part, downloads)
        part.replace(target)
    if digest and (actual := _sha256(target)) != digest.lower():  # a zip put there by hand too
        raise _DamagedZip(f"its SHA-256 is {actual}, not the {digest} set for it")
    return target


_NETWORK_ERRORS = (urllib.error.URLError, ConnectionError, TimeoutError, ssl.SSLError,
                   http.client.HTTPException, _CutShort)
"""What goes wrong on the network's side; any other ``OSError`` is the local disk's."""


def _download(url: str, part: Path, downloads: Path) -> None:
    """Fetch ``url`` into ``part``, or only its rest when ``part`` holds its start."""
    try:
        downloads.mkdir(parents=True, exist_ok=True)
        have = part.stat().st_size if part.is_file() else 0
        print(f"Downloading data from {url}" + (f", resuming after {have:,} bytes" if have
                                                 else ""), flush=True)
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            response = urllib.request.urlopen(request, timeout=60)
        except urllib.error.HTTPError as err:
            if err.code != 416 or not have:  # 416: nothing after what we have, it is all here
                raise
            err.close()
            response = None
        if response is not None:
            with response:
                if response.status != 206:
                    have = 0  # the server sends the whole file: start again
                length = response.headers.get("Content-Length")
                total = have + int(length) if length is not None else None
                with part.open("ab" if have else "wb") as out:
                    _save(response, out, have, total, part.name.removesuffix(".part"))
            if total is not None and part.stat().st_size < total:
                raise _CutShort(f"cut short after {part.stat().st_size:,} of {total:,} bytes")
    except _NETWORK_ERRORS as err:
        raise _offline(url, err, downloads, part) from None
    except ValueError as err:  # not a URL: a mistyped mirror, say
        raise DatasetError(f"Could not download {url}: {err}. Check the address.") from None
    except OSError as err:
        raise _disk_error(part, err, "write", downloads) from err


def _offline(url: str, err: Exception, downloads: Path, part: Path) -> DatasetError:
    """The message for a download that failed on the network's side: why, and what to do."""
    if isinstance(err, urllib.error.HTTPError) and err.code in (403, 404, 410):
        return DatasetError(
            f"Could not download {url} (HTTP {err.code} {err.reason}): the server has no such "
            "file, or no longer lets anyone have it. The address may have moved: look for the "
            f"dataset's current address, or put the archive into {downloads} yourself, or use "
            f"{SHAPES_INSTEAD}.")
    if isinstance(err, urllib.error.HTTPError):
        why = f"HTTP {err.code} {err.reason}"
    elif isinstance(err, urllib.error.URLError):
        why = str(err.reason)
    else:
        why = str(err) or type(err).__name__
    kept = (f" The {part.stat().st_size / 1e6:,.0f} MB that came are kept in {part.name}: "
            "the next run fetches only the rest." if part.is_file() and part.stat().st_size
            else "")
    return DatasetError(
        f"Could not download {url} ({why}).\n"
        "Check the internet connection and run the same command again: finished "
        f"files are kept.{kept} Without internet, copy the archives into {downloads} (or "
        f"the extracted files into {downloads.parent}), or use {SHAPES_INSTEAD}.")


@dataclass(frozen=True)
class Archive:
    """One file of a dataset's release: where it is, what it costs, what of it to unpack."""

    name: str
    base_url: str | None  # None: no public address; the learner puts it in downloads/
    said: str  # its size, said before the download starts ("about 13 GB")
    members: tuple[str, ...] = ()  # the members to unpack (none named: all)
    sha256: str | None = None  # hex digest, checked where one is set
    size: int | None = None  # bytes, checked where set


class _KeepHead(urllib.request.HTTPRedirectHandler):
    """urllib turns a redirected ``HEAD`` into a ``GET`` (GitHub's releases redirect): keep it."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and req.get_method() == "HEAD":
            new.method = "HEAD"
        return new


def _remote_size(archive: Archive) -> int | None:
    """The size the server gives for an archive (an HTTP ``HEAD``), or None when it says none."""
    try:
        request = urllib.request.Request(f"{archive.base_url}/{archive.name}", method="HEAD")
        with urllib.request.build_opener(_KeepHead).open(request, timeout=20) as response:
            length = response.headers.get("Content-Length")
            return int(length) if length else None
    except (OSError, ValueError, http.client.HTTPException):
        return None  # offline, say: the download itself will say so, with what to do


def check_disk_space(root: Path, archives: list[Archive], later: str = "") -> None:
    """Stop before any download when ``root``'s disk cannot hold the archives and their contents.

    Each archive still to fetch needs its size twice (the zip, then what it
    unpacks to: JPEGs do not compress); what a cut download left is counted as
    already there. ``later`` names what comes after (COCO's feature cache).
    """
    downloads = root / "downloads"
    needed = 0
    for archive in archives:
        if (downloads / archive.name).is_file() or archive.base_url is None:
            continue
        size = archive.size or _remote_size(archive)
        if size:
            part = downloads / f"{archive.name}.part"
            needed += 2 * size - (part.stat().st_size if part.is_file() else 0)
    free = shutil.disk_usage(root).free
    if needed > free:
        raise DatasetError(
            f"Not enough disk space in {root}: the download and unpacking need about "
            f"{needed / 1e9:,.1f} GB, and {free / 1e9:,.1f} GB are free there. Nothing was "
            f"downloaded. Free some space or choose another data folder (CAPTION_DATA_DIR) on "
            f"a bigger disk.{later}")


def fetch_and_unpack(root: Path, archives: list[Archive], table: str = "") -> None:
    """Fetch (or resume), check and unpack each archive into ``root``: the tested path of every
    dataset. A damaged archive is deleted and fetched once more; a disk error keeps it."""
    downloads = root / "downloads"
    for item in archives:
        unpacked = root / f".unpacked-{item.name}"  # not in downloads/: Drive keeps that folder
        if unpacked.exists() and (downloads / item.name).is_file():
            continue  # a rerun after a later archive failed: not checked and unpacked again
        for attempt in (1, 2):
            archive = downloads / item.name
            try:
                if item.base_url is not None:
                    archive = _fetch(item.name, item.base_url, downloads, attempt > 1,
                                     item.sha256)
                check_zip(archive, item.size)
                _extract_zip(archive, root, item.members)
                unpacked.write_text("ok\n")
                break
            except _DamagedZip as err:
                if item.base_url is None:  # the learner's own copy: kept aside, not deleted
                    archive.replace(archive.with_name(archive.name + ".damaged"))
                    raise DatasetError(
                        f"{archive} is damaged ({err}); it was renamed {archive.name}.damaged. "
                        "Get it again from where you got it and put it in "
                        f"{downloads}.") from err
                archive.unlink(missing_ok=True)
                if attempt == 2:
                    raise DatasetError(
                        f"{archive} is damaged ({err}), even after downloading it again, so "
                        "it was deleted. The server may be sending an error page: download it "
                        f"in a browser from {item.base_url}/{item.name} and put it in "
                        f"{downloads}."
                        + (f" Check the digest or size set for it in {table} too."
                           if table and (item.sha256 or item.size) else "")) from err
            except OSError as err:  # the local disk, not the zip: keep it
                raise _disk_error(archive, err, "check or unpack", root) from err


def download_flickr8k(
    root: str | Path,
    base_url: str | None = None,
    expected_images: int | None = None,
) -> Path:
    """Download, check and unpack Flickr8k's two release zips into ``root`` (official layout).

    Zips already in ``root/downloads`` are not fetched again, a download cut
    short resumes where it stopped (:func:`_fetch`), and a download shows a
    progress bar. Each zip is checked before it is unpacked
    (:func:`check_zip`, and the digest of :data:`FLICKR8K_SHA256` where one is
    set). A zip that is really damaged (cut short, not a zip, a bad CRC, the
    wrong size or digest) is deleted and fetched once more; a full disk or a
    permission error keeps the zip and raises a :class:`DatasetError` that says
    what to do. The folder is marked complete only after both zips are
    unpacked and the image count checked, so running this again after any
    failure resumes the work. Taught in notebook 01.
    """
    base_url = base_url or FLICKR8K_URL  # read now, so a mirror can be set on the module
    expected_images = expected_images or FLICKR8K_IMAGES
    root = Path(root).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    marker = root / _DONE_MARKER
    if marker.exists() and detect_layout(root) == "official":
        return root
    downloads = root / "downloads"
    archives = [Archive(z, base_url, FLICKR8K_ZIP_SIZES_SAID[z], sha256=FLICKR8K_SHA256.get(z),
                        size=FLICKR8K_SIZES.get(z)) for z in FLICKR8K_ZIPS]
    missing = [a for a in archives if not (downloads / a.name).is_file()]
    if missing:  # the cost first, before a download of about 1 GB starts
        print(f"Flickr8k is not in {root} yet: downloading "
              + " and ".join(f"{a.name} ({a.said})" for a in missing)
              + f" into {downloads}, once (a finished zip is kept), then unpacking.", flush=True)
        check_disk_space(root, missing)
    fetch_and_unpack(root, archives, "FLICKR8K_SHA256 or FLICKR8K_SIZES (helpers.download)")
    image_dir = find_in(root, FLICKR8K_IMAGE_DIRS, kind="dir")
    found = len(list_images(image_dir)) if image_dir else 0
    if found != expected_images:
        raise DatasetError(
            f"Expected {expected_images} images in {root}/Flicker8k_Dataset, found {found}. "
            f"Delete {downloads} and download again."
        )
    marker.write_text("ok\n")
    return root
