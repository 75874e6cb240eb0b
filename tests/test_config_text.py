"""Settings (helpers.settings) and caption cleaning (helpers.text)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from helpers.runtime import repo_root
from helpers.settings import get_settings
from helpers.text import clean_caption, word_counts

ROOT = Path(__file__).resolve().parents[1]


def test_paths_do_not_depend_on_working_directory(monkeypatch, tmp_path):
    for var in ("CAPTION_DATA_DIR", "CAPTION_RUN_DIR", "CAPTION_ROOT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = get_settings(dataset="flickr8k")
    assert repo_root() == ROOT
    assert settings.data_dir == ROOT / "data"
    assert settings.dataset_dir == ROOT / "data" / "flickr8k"
    assert settings.run_dir == ROOT / "runs" / "flickr8k"


def test_defaults_and_environment(monkeypatch, tmp_path):
    for var in ("CAPTION_DATASET", "CAPTION_ENCODER", "CAPTION_ENCODER_WEIGHTS",
                "CAPTION_EPOCHS"):
        monkeypatch.delenv(var, raising=False)
    settings = get_settings()
    assert (settings.dataset, settings.encoder, settings.encoder_weights, settings.epochs) == (
        "flickr8k",
        "vgg16",
        "imagenet",
        20,
    )
    monkeypatch.setenv("CAPTION_DATASET", "shapes")
    monkeypatch.setenv("CAPTION_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("CAPTION_EPOCHS", "3")
    settings = get_settings()
    assert settings.encoder == "shapes-vgg"  # the shapes world needs no ImageNet weights
    assert settings.run_dir == tmp_path / "run" and settings.epochs == 3
    assert "\nencoder        shapes-vgg\n" in settings.as_table()
    assert "encoder weights" not in settings.as_table()  # they are VGG16's only
    assert get_settings(epochs=5, encoder_weights="imagenet").epochs == 5
    # a random VGG16 stays selectable, on any dataset
    monkeypatch.setenv("CAPTION_ENCODER", "VGG16")
    monkeypatch.setenv("CAPTION_ENCODER_WEIGHTS", "none")
    settings = get_settings()
    assert (settings.encoder, settings.encoder_weights) == ("vgg16", "none")
    assert "encoder weights  none" in settings.as_table()
    assert get_settings(dataset="flickr8k", encoder="shapes-vgg").encoder == "shapes-vgg"


def test_bad_settings_say_what_to_set(monkeypatch):
    with pytest.raises(ValueError, match="Unknown encoder 'resnet'.*vgg16, shapes-vgg"):
        get_settings(encoder="resnet")
    monkeypatch.setenv("CAPTION_EPOCHS", "many")
    with pytest.raises(ValueError, match="CAPTION_EPOCHS='many' is not a whole number"):
        get_settings()
    monkeypatch.setenv("CAPTION_EPOCHS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        get_settings()
    with pytest.raises(ValueError, match="Unknown dataset 'flickr9k'.*shapes"):
        get_settings(dataset="flickr9k")


def test_model_seed_setting(monkeypatch):
    monkeypatch.delenv("CAPTION_SEED", raising=False)
    assert get_settings().seed == 0
    monkeypatch.setenv("CAPTION_SEED", "3")
    assert get_settings().seed == 3
    assert get_settings(seed=0).seed == 0  # an explicit 0 wins over the environment
    assert "model seed" in get_settings().as_table()
    monkeypatch.setenv("CAPTION_SEED", "-1")
    with pytest.raises(ValueError, match="CAPTION_SEED='-1' must be at least 0"):
        get_settings()


def test_unknown_setting_is_an_error():
    with pytest.raises(TypeError, match="unknown settings: epoch"):
        get_settings(epoch=3)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("A dog, running!", "a dog running"),
        ("Two  dogs play in the 2nd field .", "two dogs play in the nd field"),
        ("A child's toy", "a childs toy"),
        ("   ", ""),
    ],
)
def test_clean_caption(raw, clean):
    assert clean_caption(raw) == clean


def test_word_counts_keep_the_article():
    counts = word_counts(["A dog .", "a cat, a hat"])
    assert counts["a"] == 3 and counts["dog"] == 1


def test_native_logs_go_to_the_file_not_the_screen(tmp_path):
    log = tmp_path / "native.log"
    script = (f"import os; from helpers.runtime import send_native_logs_to; "
              f"send_native_logs_to({str(log)!r}); os.write(2, b'E0000 cuInit chatter')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert "chatter" not in done.stderr
    assert "E0000 cuInit chatter" in log.read_text()


def test_native_logs_that_cannot_be_written_change_nothing(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    script = (f"import os; from helpers.runtime import send_native_logs_to; "
              f"print(send_native_logs_to({str(blocker / 'native.log')!r})); "
              f"os.write(2, b'still here')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.strip() == "None" and "still here" in done.stderr


def test_google_drive_keeps_data_and_runs_on_colab_only(tmp_path, monkeypatch):
    import sys
    import types

    from helpers.runtime import use_google_drive

    monkeypatch.delenv("CAPTION_DATA_DIR", raising=False)
    monkeypatch.delenv("CAPTION_RUN_DIR", raising=False)
    monkeypatch.setenv("CAPTION_ROOT", str(tmp_path))  # recorded, so the test leaves none set
    monkeypatch.delenv("CAPTION_ROOT")
    with pytest.warns(UserWarning, match="Colab only"):
        assert use_google_drive() is None  # not on Colab: nothing changes
    mounted = []
    colab = types.ModuleType("google.colab")
    colab.drive = types.SimpleNamespace(mount=lambda point: mounted.append(point))
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    root = use_google_drive("course", mount_point=str(tmp_path / "drive"))
    assert mounted == [str(tmp_path / "drive")]
    assert root == tmp_path / "drive" / "MyDrive" / "course" and root.is_dir()
    settings = get_settings(dataset="shapes")
    assert settings.data_dir == root / "data" and settings.run_dir == root / "runs" / "shapes"


def test_quick_setting(monkeypatch):
    monkeypatch.delenv("CAPTION_QUICK", raising=False)
    assert not get_settings().quick and "quick" not in get_settings().as_table()
    monkeypatch.setenv("CAPTION_QUICK", "1")
    assert get_settings().quick and "quick" in get_settings().as_table()
    assert not get_settings(quick=False).quick  # an explicit False wins over the environment
    monkeypatch.setenv("CAPTION_QUICK", "maybe")
    with pytest.raises(ValueError, match="CAPTION_QUICK='maybe'"):
        get_settings()
