"""download_flickr8k against a local HTTP server serving zips the test builds.

The zips have the structure of the two real release zips (including their
``__MACOSX`` folders); the server can cut a download short, flip a byte of a
member (a bad CRC) or serve garbage.
"""

from __future__ import annotations

import errno
import functools
import hashlib
import http.server
import re
import subprocess
import sys
import threading
import zipfile
from collections import namedtuple
from pathlib import Path

import pytest

from helpers import download as download_module
from helpers.data import load_dataset, main
from helpers.dataset import DatasetError
from helpers.download import FLICKR8K_SHA256, FLICKR8K_SIZES, download_flickr8k
from tests.fixtures import release_zips, sample_captions

N_IMAGES = 6
shutil_usage = namedtuple("usage", "total used free")


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``cut_once`` names files whose first download is cut in half,
    ``corrupt_once`` those whose first download has one byte of a member flipped."""

    cut_once: set[str] = set()
    corrupt_once: set[str] = set()
    garbage: set[str] = set()
    requests: list[str] = []
    ranges: list[tuple[str, int]] = []  # (file, first byte) of each request for the rest

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        name = self.path.rsplit("/", 1)[-1]
        type(self).requests.append(name)
        ranged = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        if ranged and name not in self.garbage | self.corrupt_once | self.cut_once:
            type(self).ranges.append((name, int(ranged[1])))
            body = (Path(self.directory) / name).read_bytes()[int(ranged[1]):]
            self.send_response(206)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if name in self.garbage:
            body = b"<html>rate limit exceeded</html>"
        elif name in self.corrupt_once:
            self.corrupt_once.discard(name)
            body = bytearray((Path(self.directory) / name).read_bytes())
            with zipfile.ZipFile(Path(self.directory) / name) as zf:
                first = zf.infolist()[0]  # stored, not deflated: its bytes are the file's
            body[first.header_offset + 30 + len(first.filename) + 1] ^= 0xFF
        elif name in self.cut_once:
            self.cut_once.discard(name)
            body = (Path(self.directory) / name).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        else:
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(tmp_path):
    captions = sample_captions(N_IMAGES)
    names = list(captions)
    folder = release_zips(
        tmp_path / "release", captions, {"train": names[:4], "val": names[4:5], "test": names[5:]}
    )
    Handler.cut_once, Handler.corrupt_once, Handler.garbage = set(), set(), set()
    Handler.requests, Handler.ranges = [], []
    Handler.directory_of = str(folder)
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", captions
    httpd.shutdown()
    httpd.server_close()


def test_download_unpacks_official_layout_without_macos_files(tmp_path, server):
    url, captions = server
    root = download_flickr8k(tmp_path / "flickr8k", base_url=url, expected_images=N_IMAGES)
    assert not list(root.rglob("__MACOSX")) and not list(root.rglob("._*"))
    ds = load_dataset("flickr8k", root=root)
    assert ds.captions == captions
    assert [len(ds.splits[s]) for s in ("train", "val", "test")] == [4, 1, 1]
    assert Handler.requests == ["Flickr8k_Dataset.zip", "Flickr8k_text.zip"]

    download_flickr8k(root, base_url=url, expected_images=N_IMAGES)  # already complete
    assert len(Handler.requests) == 2


def test_load_dataset_downloads_when_asked(tmp_path, server, monkeypatch):
    url, captions = server
    monkeypatch.setattr("helpers.download.FLICKR8K_URL", url)
    monkeypatch.setattr("helpers.download.FLICKR8K_IMAGES", N_IMAGES)
    monkeypatch.setattr(download_flickr8k, "__defaults__", (url, N_IMAGES))
    ds = load_dataset("flickr8k", root=tmp_path / "f", download=True)
    assert ds.captions == captions


def test_an_interrupted_download_resumes_where_it_stopped(tmp_path, server):
    url, captions = server
    Handler.cut_once = {"Flickr8k_text.zip"}
    root = tmp_path / "flickr8k"
    with pytest.raises(DatasetError, match="(?s)Could not download .*Flickr8k_text.zip "
                       r"\(cut short after .* bytes\).*run the same.*the next run fetches only"):
        download_flickr8k(root, base_url=url, expected_images=N_IMAGES)
    part = root / "downloads" / "Flickr8k_text.zip.part"
    assert not (root / "downloads" / "Flickr8k_text.zip").exists() and part.is_file()
    assert not (root / ".flickr8k-complete").exists()
    half = part.stat().st_size

    download_flickr8k(root, base_url=url, expected_images=N_IMAGES)
    # the images zip, finished the first time, is not fetched again; the text zip's rest only
    assert Handler.requests.count("Flickr8k_Dataset.zip") == 1
    assert Handler.ranges == [("Flickr8k_text.zip", half)]
    assert not part.exists()
    assert load_dataset("flickr8k", root=root).captions == captions


def test_a_server_that_ignores_the_range_sends_it_all_again(tmp_path, server):
    url, captions = server
    downloads = tmp_path / "f" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "Flickr8k_text.zip.part").write_bytes(b"PK\x03\x04 the start")
    original = Handler.do_GET

    def no_ranges(self):
        del self.headers["Range"]
        original(self)

    Handler.do_GET = no_ranges
    try:
        root = download_flickr8k(tmp_path / "f", base_url=url, expected_images=N_IMAGES)
    finally:
        Handler.do_GET = original
    assert load_dataset("flickr8k", root=root).captions == captions


def test_not_enough_disk_space_stops_before_any_download(tmp_path, server, monkeypatch):
    url, _ = server
    monkeypatch.setattr(download_module.shutil, "disk_usage",
                        lambda path: shutil_usage(total=10**9, used=10**9 - 1000, free=1000))
    with pytest.raises(DatasetError, match=r"Not enough disk space in .*f: .* need about "
                       r"0\.0 GB, and 0\.0 GB are free there\. Nothing was downloaded"):
        download_flickr8k(tmp_path / "f", base_url=url, expected_images=N_IMAGES)
    assert Handler.requests == []


def test_truncated_zip_left_by_a_killed_process_is_fetched_again(tmp_path, server):
    url, captions = server
    downloads = tmp_path / "flickr8k" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "Flickr8k_Dataset.zip").write_bytes(b"PK\x03\x04 half a zip")
    root = download_flickr8k(tmp_path / "flickr8k", base_url=url, expected_images=N_IMAGES)
    assert Handler.requests.count("Flickr8k_Dataset.zip") == 1
    assert zipfile.is_zipfile(downloads / "Flickr8k_Dataset.zip")
    assert load_dataset("flickr8k", root=root).captions == captions


def test_corrupt_archive_says_what_to_do(tmp_path, server):
    url, _ = server
    Handler.garbage = {"Flickr8k_Dataset.zip"}
    root = tmp_path / "flickr8k"
    with pytest.raises(DatasetError, match="(?s)Flickr8k_Dataset.zip is damaged.*browser"):
        download_flickr8k(root, base_url=url, expected_images=N_IMAGES)
    assert Handler.requests.count("Flickr8k_Dataset.zip") == 2  # tried once more
    assert not (root / "downloads" / "Flickr8k_Dataset.zip").exists()
    assert not (root / ".flickr8k-complete").exists()


def test_a_member_with_a_bad_crc_is_fetched_again_before_anything_is_unpacked(
    tmp_path, server, monkeypatch
):
    url, captions = server
    Handler.corrupt_once = {"Flickr8k_Dataset.zip"}
    unpacked = []
    original = download_module._extract_zip

    def extract(archive, target, *members):
        unpacked.append(archive.read_bytes())
        original(archive, target, *members)

    monkeypatch.setattr(download_module, "_extract_zip", extract)
    root = download_flickr8k(tmp_path / "f", base_url=url, expected_images=N_IMAGES)
    assert Handler.requests.count("Flickr8k_Dataset.zip") == 2
    good = (Path(Handler.directory_of) / "Flickr8k_Dataset.zip").read_bytes()
    assert unpacked[0] == good  # only the good copy was ever unpacked
    assert load_dataset("flickr8k", root=root).captions == captions


@pytest.mark.parametrize("problem", ["full disk", "permission"])
def test_a_local_disk_error_keeps_the_zip_and_says_what_to_do(
    tmp_path, server, monkeypatch, problem
):
    """Bug 1: a full disk or a permission error is not the zip's fault: it is kept,
    not fetched again, and the message names the file and what to do."""
    url, _ = server
    if problem == "full disk":  # while unpacking
        def fail(archive, target, *members):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(download_module, "_extract_zip", fail)
        advice = "Free some disk space"
    else:  # while checking the zip
        def fail(self):
            raise PermissionError(errno.EACCES, "Permission denied")

        monkeypatch.setattr(zipfile.ZipFile, "testzip", fail)
        advice = "writable .*permissions"
    root = tmp_path / "f"
    archive = root / "downloads" / "Flickr8k_Dataset.zip"
    with pytest.raises(DatasetError) as err:
        download_flickr8k(root, base_url=url, expected_images=N_IMAGES)
    message = str(err.value)
    assert str(archive) in message and "not of the download: the zip is kept" in message
    assert re.search(advice, message), message
    assert "browser" not in message and "valid zip" not in message  # the server is not blamed
    assert archive.is_file() and zipfile.is_zipfile(archive)
    assert Handler.requests == ["Flickr8k_Dataset.zip"]  # not fetched again


def test_a_full_disk_while_downloading_is_not_blamed_on_the_internet(tmp_path, server,
                                                                     monkeypatch):
    def full_disk(*args):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(download_module, "_save", full_disk)
    with pytest.raises(DatasetError) as err:
        download_flickr8k(tmp_path / "f", base_url=server[0], expected_images=1)
    message = str(err.value)
    assert "Flickr8k_Dataset.zip.part: No space left on device" in message
    assert "Free some disk space" in message and "internet" not in message


@pytest.mark.parametrize("setting", ["sha256", "size"])
def test_a_set_digest_or_size_is_checked(tmp_path, server, monkeypatch, setting):
    url, captions = server
    good = (Path(Handler.directory_of) / "Flickr8k_text.zip").read_bytes()
    if setting == "sha256":
        table, right, wrong = FLICKR8K_SHA256, hashlib.sha256(good).hexdigest(), "0" * 64
    else:
        table, right, wrong = FLICKR8K_SIZES, len(good), len(good) + 1
    monkeypatch.setitem(table, "Flickr8k_text.zip", wrong)
    with pytest.raises(DatasetError) as err:
        download_flickr8k(tmp_path / "wrong", base_url=url, expected_images=N_IMAGES)
    message = str(err.value)
    assert "Flickr8k_text.zip is damaged" in message and str(wrong) in message
    assert "FLICKR8K_SHA256 or FLICKR8K_SIZES" in message
    assert Handler.requests.count("Flickr8k_text.zip") >= 2  # fetched again before giving up
    assert not (tmp_path / "wrong" / "downloads" / "Flickr8k_text.zip").exists()
    assert not (tmp_path / "wrong" / "Flickr8k.token.txt").exists()  # nothing unpacked

    monkeypatch.setitem(table, "Flickr8k_text.zip", right)
    root = download_flickr8k(tmp_path / "right", base_url=url, expected_images=N_IMAGES)
    assert load_dataset("flickr8k", root=root).captions == captions


def test_no_digest_or_size_is_assumed():
    """None is published for the jbrownlee zips: a guessed one would refuse good downloads."""
    assert set(FLICKR8K_SHA256.values()) == {None} == set(FLICKR8K_SIZES.values())


def test_command_line_downloads(tmp_path, server, monkeypatch, capsys):
    url, _ = server
    monkeypatch.setattr(download_flickr8k, "__defaults__", (url, N_IMAGES))
    assert main(["download", str(tmp_path / "f")]) == 0
    assert "CaptionDataset('flickr8k'" in capsys.readouterr().out
    assert (tmp_path / "f" / ".flickr8k-complete").exists()


def test_command_line_help_and_usage_errors():
    command = [sys.executable, "-m", "helpers.data"]
    shown = subprocess.run([*command, "--help"], capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0 and "download" in shown.stdout
    for wrong in ([], ["fetch"], ["download", "a", "b"]):
        result = subprocess.run([*command, *wrong], capture_output=True, text=True, timeout=120)
        assert result.returncode == 2, wrong
        assert result.stderr.startswith("usage: python -m helpers.data"), result.stderr


def test_wrong_image_count_is_reported(tmp_path, server):
    url, _ = server
    with pytest.raises(DatasetError, match=f"Expected 8091 images .* found {N_IMAGES}"):
        download_flickr8k(tmp_path / "f", base_url=url)


def test_unreachable_server_says_how_to_work_offline(tmp_path, capsys):
    with pytest.raises(DatasetError, match="(?s)Without internet.*CAPTION_DATASET=shapes") as err:
        download_flickr8k(tmp_path / "f", base_url="http://127.0.0.1:9", expected_images=1)
    # the cost was said before the download started
    assert "Flickr8k_Dataset.zip (about 1 GB)" in capsys.readouterr().out
    # one short error, the reason only: not keras' chain of three tracebacks
    assert err.value.__cause__ is None and err.value.__suppress_context__
    assert "URL fetch failure" not in str(err.value)
    assert re.match(r"Could not download \S+Flickr8k_Dataset.zip \(.*refused.*\)\.\n",
                    str(err.value)), str(err.value)


def test_a_download_in_progress_says_its_cost_once(tmp_path, server, capsys):
    url, _ = server
    root = download_flickr8k(tmp_path / "flickr8k", base_url=url, expected_images=N_IMAGES)
    said = capsys.readouterr().out
    assert said.count("downloading") == 1 and "Flickr8k_text.zip (about 2 MB)" in said
    download_flickr8k(root, base_url=url, expected_images=N_IMAGES)  # complete: nothing said
    assert "downloading" not in capsys.readouterr().out


def test_a_fresh_machine_gets_what_a_notebook_needs(tmp_path, server, monkeypatch):
    """As on a fresh Colab runtime (empty data and run folders), `prepare` downloads
    Flickr8k, extracts the features and fits the vocabulary, and says so."""
    from helpers.pipeline import prepare
    from helpers.settings import get_settings

    url, captions = server
    monkeypatch.setattr("helpers.download.FLICKR8K_URL", url)
    monkeypatch.setattr("helpers.download.FLICKR8K_IMAGES", N_IMAGES)
    settings = get_settings(dataset="flickr8k", data_dir=tmp_path / "data", encoder="vgg16",
                            run_dir=tmp_path / "run", encoder_weights="none")
    run = prepare(settings, progress=False)
    assert run.dataset.captions == captions and run.cache.complete
    notes = "\n".join(run.notes)
    assert "No Flickr8k in the data folder: downloading it" in notes
    assert "extracting the features now" in notes and "fitting the vocabulary" in notes
    assert prepare(settings, progress=False).notes == []  # the next notebook finds it all
