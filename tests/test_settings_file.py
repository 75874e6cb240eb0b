"""The learner's settings file (helpers.config): chosen once, in its place in the order."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers import config
from helpers.settings import get_settings, notebook_settings, setting_origins

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    """A learner's settings file in a temporary place, and no CAPTION_* variable set."""
    path = tmp_path / "my-settings.ini"
    monkeypatch.setenv("CAPTION_SETTINGS_FILE", str(path))
    for variable in config.VARIABLES.values():
        monkeypatch.delenv(variable, raising=False)
    return path


def test_chosen_once_the_dataset_applies_to_every_notebook(settings_file):
    assert notebook_settings(dataset=None).dataset == "flickr8k"  # the default
    config.save_settings(dataset="shapes", epochs=5)
    settings = notebook_settings(dataset=None)  # a Parameters cell left as it is
    assert (settings.dataset, settings.epochs, settings.encoder) == ("shapes", 5, "shapes-vgg")
    assert setting_origins(dataset=None)["dataset"] == "settings file"
    config.save_settings(epochs=None)  # removes one setting, keeps the others
    assert "epochs" not in settings_file.read_text() and "shapes" in settings_file.read_text()


def test_the_order_is_environment_then_parameters_then_file_then_defaults(
        settings_file, monkeypatch):
    config.save_settings(dataset="shapes", seed=3)
    assert notebook_settings(dataset="flickr8k").dataset == "flickr8k"  # the cell wins
    assert notebook_settings().seed == 3                                # the file
    monkeypatch.setenv("CAPTION_DATASET", "coco")
    assert notebook_settings(dataset="flickr8k").dataset == "coco"      # the environment
    assert setting_origins(dataset="flickr8k")["dataset"] == "CAPTION_DATASET"
    assert get_settings(dataset="shapes").dataset == "shapes"  # code's own arguments win


def test_make_test_and_make_tutorial_ignore_the_file(settings_file, monkeypatch):
    config.save_settings(dataset="shapes", epochs=2)
    monkeypatch.setenv("CAPTION_SETTINGS_FILE", "none")
    assert notebook_settings().dataset == "flickr8k" and notebook_settings().epochs == 20
    makefile = (ROOT / "Makefile").read_text()
    for target in ("tutorial:", "test:"):
        recipe = makefile.split(f"\n{target}", 1)[1].split("\n\n", 1)[0]
        assert "CAPTION_SETTINGS_FILE=none" in recipe, f"make {target[:-1]} reads the file"


def test_a_typo_stops_before_anything_is_written(settings_file):
    config.save_settings(dataset="shapes")
    before = settings_file.read_text()
    with pytest.raises(ValueError, match="Unknown dataset 'shape'"):
        config.save_settings(dataset="shape")
    with pytest.raises(ValueError, match="epochs='many' .* not a whole number"):
        config.save_settings(epochs="many")
    with pytest.raises(ValueError, match="unknown setting"):
        config.save_settings(datset="shapes")
    assert settings_file.read_text() == before


def test_a_broken_file_names_itself_and_what_to_do(settings_file):
    settings_file.write_text("[settings]\ndataset = shapes\nepoch = 3\n")
    with pytest.raises(ValueError, match=r"my-settings.ini: unknown setting\(s\) epoch.*--reset"):
        notebook_settings()
    settings_file.write_text("dataset = shapes\n")
    with pytest.raises(ValueError, match="my-settings.ini is not a settings file"):
        notebook_settings()


def test_the_command_line_writes_shows_and_resets(settings_file):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "helpers.config", *args], cwd=ROOT,
                              capture_output=True, text=True)

    done = run("dataset=shapes")
    assert done.returncode == 0 and "dataset" in done.stdout and "(settings file)" in done.stdout
    assert "dataset = shapes" in settings_file.read_text()
    assert run("dataset=nope").returncode == 2 and "shapes" in settings_file.read_text()
    done = run("--reset")
    assert done.returncode == 0 and not settings_file.exists()
