"""Flickr30k and COCO (helpers.sources) through the download path Flickr8k uses.

A local server serves small archives the tests build in the shapes of the real
ones: ``caption_datasets.zip`` (Karpathy's three split files), COCO's
``train2014.zip`` and ``val2014.zip``, a Flickr30k images zip.
"""

from __future__ import annotations

import functools
import http.server
import io
import json
import threading
import zipfile
from collections import namedtuple

import pytest

from helpers import download as download_module
from helpers.data import load_dataset, main
from helpers.dataset import DatasetError
from helpers.sources import FLICKR30K_FORM, download_dataset
from tests.test_download import Handler

Usage = namedtuple("Usage", "total used free")


def _jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(out, format="JPEG")
    return out.getvalue()


def _entries(where: dict[str, list[str]], splits: list[str]) -> list[dict]:
    files = [(folder, name) for folder, names in where.items() for name in names]
    return [{**({"filepath": folder} if folder.endswith("2014") else {}),  # COCO's only
             "filename": name, "split": split,
             "sentences": [{"raw": f"a picture number {i}"}, {"raw": "two green squares"}]}
            for i, ((folder, name), split) in enumerate(zip(files, splits))]


COCO = {"train2014": ["COCO_train2014_000000000001.jpg", "COCO_train2014_000000000002.jpg",
                      "COCO_train2014_000000000003.jpg"],
        "val2014": ["COCO_val2014_000000000004.jpg", "COCO_val2014_000000000005.jpg"]}
FLICKR30K = {"flickr30k-images": ["1000092795.jpg", "10002456.jpg", "1000268201.jpg"]}


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    picture = _jpeg()
    with zipfile.ZipFile(folder / "caption_datasets.zip", "w") as zf:
        for name, where, splits in (
                ("coco", COCO, ["train", "restval", "train", "val", "test"]),
                ("flickr30k", FLICKR30K, ["train", "val", "test"])):
            zf.writestr(f"dataset_{name}.json",
                        json.dumps({"dataset": name, "images": _entries(where, splits)}))
        zf.writestr("dataset_flickr8k.json", json.dumps({"images": []}))
    for part in COCO:
        with zipfile.ZipFile(folder / f"{part}.zip", "w") as zf:
            for name in COCO[part]:
                zf.writestr(f"{part}/{name}", picture)
    with zipfile.ZipFile(tmp_path / "flickr30k-images.zip", "w") as zf:
        for name in FLICKR30K["flickr30k-images"]:
            zf.writestr(f"flickr30k-images/{name}", picture)
    Handler.cut_once, Handler.corrupt_once, Handler.garbage = set(), set(), set()
    Handler.requests, Handler.ranges = [], []
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield {name: url for name in ("caption_datasets.zip", "train2014.zip", "val2014.zip")}
    httpd.shutdown()
    httpd.server_close()


def test_coco_is_downloaded_checked_and_unpacked_in_karpathys_split(tmp_path, served, capsys):
    root = download_dataset("coco", tmp_path / "coco", served, expected_images=5)
    said = capsys.readouterr().out
    assert "CC BY 4.0" in said and "train2014.zip (about 13.5 GB (estimate))" in said
    assert sorted(p.name for p in root.glob("dataset_*.json")) == ["dataset_coco.json"]
    ds = load_dataset("coco", root=root)
    assert [len(ds.splits[s]) for s in ("train", "val", "test")] == [3, 1, 1]  # restval trains
    assert ds.image_path("COCO_val2014_000000000004.jpg").is_file()
    assert sorted(Handler.requests) == ["caption_datasets.zip", "train2014.zip", "val2014.zip"]
    download_dataset("coco", root, served, expected_images=5)  # complete: nothing fetched
    assert len(Handler.requests) == 3


def test_a_cut_coco_download_resumes_and_a_damaged_one_is_fetched_again(tmp_path, served):
    Handler.cut_once, Handler.corrupt_once = {"train2014.zip"}, {"val2014.zip"}
    with pytest.raises(DatasetError, match="(?s)train2014.zip \\(cut short.*fetches only"):
        download_dataset("coco", tmp_path / "coco", served, expected_images=5)
    root = download_dataset("coco", tmp_path / "coco", served, expected_images=5)
    assert [name for name, _ in Handler.ranges] == ["train2014.zip"]
    assert Handler.requests.count("val2014.zip") == 2  # a bad CRC: deleted, fetched again
    assert len(load_dataset("coco", root=root).captions) == 5


def test_load_dataset_and_the_command_line_download_coco(tmp_path, served, monkeypatch, capsys):
    monkeypatch.setattr(download_dataset, "__defaults__", (served, 5))
    assert len(load_dataset("coco", root=tmp_path / "a", download=True).captions) == 5
    assert main(["download", "--dataset", "coco", str(tmp_path / "b")]) == 0
    assert "CaptionDataset('coco'" in capsys.readouterr().out


def test_coco_needs_its_disk_space_said_before_any_download(tmp_path, served, monkeypatch):
    monkeypatch.setattr(download_module.shutil, "disk_usage", lambda path: Usage(10**9, 0, 100))
    with pytest.raises(DatasetError, match="(?s)Not enough disk space.*Nothing was downloaded"
                       ".*about 25 GB more.*free Google Drive"):
        download_dataset("coco", tmp_path / "coco", served, expected_images=5)
    assert Handler.requests == []


def test_flickr30k_images_are_requested_then_unpacked_by_the_same_command(tmp_path, served):
    root = tmp_path / "flickr30k"
    with pytest.raises(DatasetError, match=f"(?s)no public address: request them at "
                       f"{FLICKR30K_FORM}.*put flickr30k-images.zip into {root}/downloads"):
        download_dataset("flickr30k", root, served, expected_images=3)
    assert Handler.requests == []  # nothing fetched before the images are there
    (root / "downloads").mkdir(parents=True)
    (tmp_path / "flickr30k-images.zip").rename(root / "downloads" / "flickr30k-images.zip")
    download_dataset("flickr30k", root, served, expected_images=3)
    ds = load_dataset("flickr30k", root=root)
    assert sorted(ds.captions) == sorted(FLICKR30K["flickr30k-images"])
    assert Handler.requests == ["caption_datasets.zip"]


def test_a_damaged_flickr30k_zip_is_kept_aside_and_says_where_it_came_from(tmp_path, served):
    downloads = tmp_path / "f" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "flickr30k-images.zip").write_bytes(b"PK\x03\x04 half a zip")
    with pytest.raises(DatasetError, match="is damaged .*renamed flickr30k-images.zip.damaged"
                       ".* from where you got it"):
        download_dataset("flickr30k", tmp_path / "f", served, expected_images=3)
    assert not (downloads / "flickr30k-images.zip").exists()
    assert (downloads / "flickr30k-images.zip.damaged").is_file()  # the learner's copy: kept


def test_load_dataset_resumes_a_cut_download_after_the_split_file_came(tmp_path, served,
                                                                        monkeypatch):
    """The split file is unpacked first: a cut images zip must not leave a 'found' dataset."""
    monkeypatch.setattr(download_dataset, "__defaults__", (served, 5))
    Handler.cut_once = {"val2014.zip"}
    with pytest.raises(DatasetError, match="val2014.zip \\(cut short"):
        load_dataset("coco", root=tmp_path / "coco", download=True)
    assert (tmp_path / "coco" / "dataset_coco.json").is_file()
    unpacked = []
    original = download_module._extract_zip
    monkeypatch.setattr(download_module, "_extract_zip",
                        lambda archive, *rest: unpacked.append(archive.name) or original(
                            archive, *rest))
    ds = load_dataset("coco", root=tmp_path / "coco", download=True)
    assert [len(ds.splits[s]) for s in ("train", "val", "test")] == [3, 1, 1]
    assert unpacked == ["val2014.zip"]  # what was unpacked before is not unpacked again
    assert [name for name, _ in Handler.ranges] == ["val2014.zip"]


def test_a_copy_unpacked_by_hand_is_taken_without_a_download(tmp_path, served):
    root = download_dataset("coco", tmp_path / "first", served, expected_images=5)
    Handler.requests = []
    (root / ".coco-complete").unlink()
    for mark in root.glob(".unpacked-*"):
        mark.unlink()
    assert download_dataset("coco", root, served, expected_images=5) == root
    assert Handler.requests == [] and (root / ".coco-complete").exists()


def test_a_missing_file_on_the_server_says_the_address_may_have_moved(tmp_path, served):
    moved = dict(served, **{"train2014.zip": served["train2014.zip"] + "/gone"})
    with pytest.raises(DatasetError, match="HTTP 404 .*The address may have moved"):
        download_dataset("coco", tmp_path / "coco", moved, expected_images=5)


def test_the_command_line_says_what_to_do_without_a_traceback(tmp_path, capsys):
    assert main(["download", "--dataset", "flickr30k", str(tmp_path / "f30k")]) == 1
    said = capsys.readouterr()
    assert "no public address: request them at" in said.err and "Traceback" not in said.err
