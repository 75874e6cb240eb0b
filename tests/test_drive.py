"""Google Drive as a store on Colab: what it keeps, restores, writes back and costs (issue 21).

The whole path through real notebooks on a simulated Colab runtime is in
``tests/test_colab.py``; these are the rules, one at a time, on small folders.
"""

from __future__ import annotations

import os
import sys
import types

import pytest

from helpers import drive
from helpers.costs import fresh_runtime_note, rebuild_seconds
from helpers.drive import DriveMirror, drive_pairs, keep_on_drive
from helpers.settings import get_settings


def write(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_fresh_machine_gets_what_drive_keeps(tmp_path):
    local, store = tmp_path / "local", tmp_path / "drive"
    write(store / "features" / "fc2.npy", "features")
    write(store / "model.keras", "model")
    write(store / ".model.keras.partial", "half")  # a copy that never finished
    mirror = DriveMirror([(local, store)])
    assert mirror.restore() == (2, len("features") + len("model"))
    assert (local / "features" / "fc2.npy").read_text() == "features"
    assert not (local / ".model.keras.partial").exists()
    assert mirror.restore() == (0, 0)  # the same files: nothing is copied twice
    assert mirror.save() == (0, 0, 0)


def test_what_a_cell_writes_changes_or_deletes_goes_back(tmp_path):
    local, store = tmp_path / "local", tmp_path / "drive"
    write(store / "checkpoints" / "latest.weights.h5", "epoch 3")
    mirror = DriveMirror([(local, store)])
    mirror.restore()
    write(local / "vocab.json", "{}")
    write(local / "history.csv", "epoch,loss\n1,2.5\n")
    (local / "checkpoints" / "latest.weights.h5").unlink()  # training done: backup removed
    copied, size, deleted = mirror.save()
    assert (copied, deleted) == (2, 1) and size > 0
    assert (store / "vocab.json").read_text() == "{}"
    assert not (store / "checkpoints" / "latest.weights.h5").exists()  # never restored again
    write(local / "vocab.json", '{"changed": 1}')
    assert mirror.save()[0] == 1 and "changed" in (store / "vocab.json").read_text()
    assert not list(store.rglob(".*.partial"))


def test_drive_keeps_archives_encoders_weights_and_the_run_not_the_images(tmp_path):
    settings = get_settings(dataset="flickr8k", data_dir=tmp_path / "data",
                            run_dir=tmp_path / "runs" / "vgg16")
    kept = {str(local.relative_to(tmp_path)) if local.is_relative_to(tmp_path) else "keras": str(
        stored.relative_to(tmp_path / "drive")) for local, stored in
        drive_pairs(settings, tmp_path / "drive")}
    assert kept == {"data/flickr8k/downloads": "data/flickr8k/downloads",
                    "data/encoders": "data/encoders", "keras": "keras/models",
                    "runs/vgg16": "runs/flickr8k/vgg16"}


@pytest.fixture
def colab(tmp_path, monkeypatch):
    """A stand-in google.colab whose Drive is a folder of the test; returns its MyDrive."""
    my_drive = tmp_path / "my-drive"
    my_drive.mkdir()

    def mount(point):
        os.makedirs(point, exist_ok=True)
        os.symlink(my_drive, os.path.join(point, "MyDrive"))

    module = types.ModuleType("google.colab")
    module.drive = types.SimpleNamespace(mount=mount)
    monkeypatch.setitem(sys.modules, "google.colab", module)
    monkeypatch.setattr(drive, "MOUNT_POINT", str(tmp_path / "mnt"))
    monkeypatch.setattr(drive, "_MIRRORS", {})
    return my_drive


def test_keep_on_drive_copies_to_the_local_disk_on_colab(tmp_path, colab, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    settings = get_settings(dataset="shapes", data_dir=tmp_path / "data",
                            run_dir=tmp_path / "runs" / "shapes-vgg")
    write(colab / "caption-tutorial" / "runs" / "shapes" / "shapes-vgg" / "vocab.json", "{}")
    mirror = keep_on_drive(settings, use_drive=True, notebook="05")
    assert (tmp_path / "runs" / "shapes-vgg" / "vocab.json").read_text() == "{}"
    assert "copied 1 files" in capsys.readouterr().out
    assert keep_on_drive(settings, use_drive=True) is mirror  # a cell run twice: one mirror
    write(tmp_path / "runs" / "shapes-vgg" / "model.keras", "model")
    mirror.save_after_cell()
    assert "saved 1 new or changed files" in capsys.readouterr().out
    assert (colab / "caption-tutorial" / "runs" / "shapes" / "shapes-vgg" / "model.keras").exists()


def test_without_drive_colab_says_what_it_rebuilds_and_how_to_avoid_it(tmp_path, colab, capsys):
    settings = get_settings(dataset="flickr8k", data_dir=tmp_path / "data")
    assert keep_on_drive(settings, use_drive=False, notebook="06") is None
    said = capsys.readouterr().out
    assert "notebooks 01-05" in said and "USE_DRIVE = True" in said and "estimate" in said
    assert not (tmp_path / "mnt").exists()  # nothing mounted


def test_a_refused_drive_means_going_on_without_it(tmp_path, colab, capsys, monkeypatch):
    def refuse(point):
        raise RuntimeError("credential propagation was unsuccessful")

    monkeypatch.setattr(sys.modules["google.colab"].drive, "mount", refuse)
    settings = get_settings(dataset="flickr8k", data_dir=tmp_path / "data")
    assert keep_on_drive(settings, use_drive=True, notebook="05") is None
    said = capsys.readouterr().out
    assert "could not be mounted (credential propagation" in said and "rebuilds" in said


def test_elsewhere_drive_changes_nothing(tmp_path, capsys):
    settings = get_settings(dataset="shapes", data_dir=tmp_path / "data")
    assert keep_on_drive(settings, use_drive=True, notebook="05") is None
    assert capsys.readouterr().out == ""


def test_the_rebuild_costs_what_the_notebook_needs():
    flickr8k = get_settings(dataset="flickr8k", epochs=20)
    assert rebuild_seconds("00", flickr8k, "gpu", drive=False) == 0
    on_cpu = rebuild_seconds("06", flickr8k, "cpu", drive=False)
    assert on_cpu > rebuild_seconds("06", flickr8k, "gpu", drive=False) > 60
    assert rebuild_seconds("06", flickr8k, "cpu", drive=True) < on_cpu / 10  # copies, no work
    assert rebuild_seconds("08", flickr8k, "gpu", drive=True) > rebuild_seconds(
        "06", flickr8k, "gpu", drive=True)  # the grid is 1.6 GB more to copy
    note = fresh_runtime_note("08", flickr8k, on="cpu")
    assert "dataset, features, vocabulary, model of flickr8k" in note
    assert " on its CPU (estimate)" in note and "USE_DRIVE = True" in note
