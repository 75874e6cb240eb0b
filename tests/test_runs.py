"""A run folder (helpers.runs): one per encoder, old-style run folders moved once, run info."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers.encoders import encoder_spec
from helpers.runs import MODELS, model_dir, move_old_run, run_info
from helpers.settings import get_settings


@pytest.fixture
def runs(tmp_path, monkeypatch) -> Path:
    """An empty repository root whose default run folders are used (no CAPTION_RUN_DIR)."""
    for variable in ("CAPTION_RUN_DIR", "CAPTION_ENCODER", "CAPTION_ENCODER_WEIGHTS"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CAPTION_ROOT", str(tmp_path))
    return tmp_path / "runs"


def old_run(folder: Path, encoder: str = "VGG16", weights: str = "none") -> Path:
    """A run folder of the old layout, ``runs/<dataset>/`` itself, as the notebooks left it."""
    (folder / "features").mkdir(parents=True)
    (folder / "features" / "meta.json").write_text(json.dumps(
        {"settings": {"dataset": "shapes", "encoder": encoder, "weights": weights}}))
    for name in ("model.keras", "vocab.json", "metrics.json", "captions_test.json"):
        (folder / name).write_text(name)
    (folder / "attention").mkdir()
    (folder / "attention" / "model.keras").write_text("attention")
    (folder / "notebooks").mkdir()  # make tutorial's executed copies: not the run's
    (folder / "notebooks" / "01.ipynb").write_text("{}")
    return folder


def test_an_old_run_folder_is_moved_to_its_encoders_folder_once(runs):
    """Bug 3: a change of encoder overwrote the one run folder; an old one is kept, moved."""
    old = old_run(runs / "shapes")
    settings = get_settings(dataset="shapes")  # shapes-vgg now; the old run was a random VGG16
    note = move_old_run(settings)
    assert "moved the vgg16-random run" in note and str(runs / "shapes") in note
    moved = runs / "shapes" / "vgg16-random"
    assert (moved / "model.keras").read_text() == "model.keras"
    assert (moved / "attention" / "model.keras").read_text() == "attention"
    assert (moved / "features" / "meta.json").exists() and (moved / "metrics.json").exists()
    assert not (old / "model.keras").exists() and not (old / "features").exists()
    assert (old / "notebooks" / "01.ipynb").exists()  # stays where make tutorial puts it
    assert move_old_run(settings) is None  # once
    assert move_old_run(get_settings(dataset="shapes", encoder="vgg16",
                                     encoder_weights="none")) is None


def test_an_old_run_is_never_overwritten_or_thrown_away(runs, monkeypatch):
    old = old_run(runs / "shapes", encoder="shapes-vgg", weights="shapes-vgg {} made 2026")
    (runs / "shapes" / "shapes-vgg").mkdir()
    (runs / "shapes" / "shapes-vgg" / "vocab.json").write_text("newer")
    note = move_old_run(get_settings(dataset="shapes"))
    assert "left as it is" in note and "vocab.json" in note
    assert (old / "model.keras").exists()
    assert (runs / "shapes" / "shapes-vgg" / "vocab.json").read_text() == "newer"
    unknown = runs / "flickr8k"
    unknown.mkdir()
    (unknown / "model.keras").write_text("no model.json, no features")
    note = move_old_run(get_settings(dataset="flickr8k"))
    assert "cannot be told" in note and (unknown / "model.keras").exists()
    monkeypatch.setenv("CAPTION_RUN_DIR", str(runs / "shapes"))  # chosen: used as given
    assert move_old_run(get_settings(dataset="shapes")) is None
    assert (old / "model.keras").exists()


def test_models_of_a_run_and_what_made_them(monkeypatch, tmp_path):
    settings = get_settings(run_dir=tmp_path)
    assert model_dir(settings) == tmp_path
    assert model_dir(settings, attention=True) == model_dir(tmp_path, model="attention")
    assert model_dir(tmp_path, model="attention") == tmp_path / MODELS["attention"]
    assert model_dir(tmp_path, model="transformer") == tmp_path / "transformer"  # notebook 09
    with pytest.raises(ValueError, match="unknown model 'gru'"):
        model_dir(settings, model="gru")
    monkeypatch.setenv("CAPTION_QUICK", "1")
    assert run_info(settings, fingerprint=False)["quick"] is True  # marked, in every record
    monkeypatch.setenv("CAPTION_QUICK", "0")
    assert "quick" not in run_info(settings, fingerprint=False)
    info = run_info(settings, attention=True, fingerprint=False)
    assert info["layer"] == encoder_spec(settings.encoder).grid
