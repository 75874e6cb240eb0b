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
    for var in ("CAPTION_DATA_DIR", "CAPTION_RUN_DIR", "CAPTION_ROOT", "CAPTION_ENCODER",
                "CAPTION_ENCODER_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    settings = get_settings(dataset="flickr8k")
    assert repo_root() == ROOT
    assert settings.data_dir == ROOT / "data"
    assert settings.dataset_dir == ROOT / "data" / "flickr8k"
    assert settings.run_dir == ROOT / "runs" / "flickr8k" / "vgg16"


def test_an_installed_package_keeps_data_in_one_folder_per_user(monkeypatch, tmp_path):
    """Bug 8: installed without a clone, data/ and runs/ went to the working directory."""
    import helpers.runtime

    for var in ("CAPTION_DATA_DIR", "CAPTION_RUN_DIR", "CAPTION_ROOT"):
        monkeypatch.delenv(var, raising=False)
    installed = tmp_path / "site-packages" / "helpers" / "runtime.py"
    monkeypatch.setattr(helpers.runtime, "__file__", str(installed))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    assert repo_root() == tmp_path / "home" / "caption-tutorial"
    home = tmp_path / "home" / "caption-tutorial"
    assert get_settings(dataset="shapes").data_dir == home / "data"
    monkeypatch.setenv("CAPTION_ROOT", str(tmp_path / "mine"))
    assert repo_root() == tmp_path / "mine"  # still the override


def test_each_encoder_and_its_weights_has_a_run_folder_of_its_own(monkeypatch, tmp_path):
    """Bug 3: one run folder per dataset, whatever the encoder, so a switch overwrote the run."""
    for var in ("CAPTION_RUN_DIR", "CAPTION_ENCODER", "CAPTION_ENCODER_WEIGHTS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("CAPTION_ROOT", str(tmp_path))
    runs = tmp_path / "runs"
    folders = {
        get_settings(dataset="flickr8k").run_dir,
        get_settings(dataset="flickr8k", encoder_weights="none").run_dir,
        get_settings(dataset="flickr8k", encoder_weights="/w/my_vgg16.h5").run_dir,
        get_settings(dataset="shapes").run_dir,
        get_settings(dataset="shapes", encoder="vgg16", encoder_weights="none").run_dir,
    }
    assert folders == {runs / "flickr8k" / "vgg16", runs / "flickr8k" / "vgg16-random",
                       runs / "flickr8k" / "vgg16-my_vgg16", runs / "shapes" / "shapes-vgg",
                       runs / "shapes" / "vgg16-random"}
    # shapes-vgg's weights are its pretraining's: CAPTION_ENCODER_WEIGHTS does not split it
    assert get_settings(dataset="shapes", encoder_weights="none").run_dir == (
        runs / "shapes" / "shapes-vgg")
    monkeypatch.setenv("CAPTION_RUN_DIR", str(tmp_path / "mine"))
    assert get_settings(encoder_weights="none").run_dir == tmp_path / "mine"  # as given


def test_a_bad_training_setting_does_not_stop_data_loading(monkeypatch, tmp_path):
    """Bug 7: load_dataset validated every setting, so CAPTION_EPOCHS=many broke it."""
    from helpers.data import load_dataset
    from tests.fixtures import sample_captions, write_official

    names = sorted(sample_captions(3))
    root = write_official(tmp_path / "f8k", sample_captions(3),
                          {"train": names[:1], "val": names[1:2], "test": names[2:]})
    for variable in ("CAPTION_EPOCHS", "CAPTION_SEED", "CAPTION_ENCODER"):
        monkeypatch.setenv(variable, "many")
    assert sorted(load_dataset("flickr8k", root=root).captions) == names
    settings = get_settings()
    with pytest.raises(ValueError, match="CAPTION_EPOCHS='many' is not a whole number"):
        settings.epochs  # noqa: B018 - reading it is what fails
    with pytest.raises(ValueError, match="Unknown encoder 'many'"):
        settings.encoder  # noqa: B018
    monkeypatch.delenv("CAPTION_RUN_DIR", raising=False)
    with pytest.raises(ValueError, match="Unknown encoder 'many'"):
        get_settings().run_dir  # noqa: B018 - the default is named after the encoder


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
        get_settings(encoder="resnet").encoder  # noqa: B018 - checked when read
    monkeypatch.setenv("CAPTION_EPOCHS", "many")
    with pytest.raises(ValueError, match="CAPTION_EPOCHS='many' is not a whole number"):
        get_settings().epochs  # noqa: B018
    with pytest.raises(ValueError, match="CAPTION_EPOCHS='many'"):
        get_settings().as_table()  # the parameters cell shows what is wrong
    monkeypatch.setenv("CAPTION_EPOCHS", "0")
    with pytest.raises(ValueError, match="at least 1"):
        get_settings().epochs  # noqa: B018
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
        get_settings().seed  # noqa: B018


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


def test_a_crash_in_the_native_log_reaches_the_next_kernel_and_the_failed_cell(tmp_path):
    import types

    from helpers.runtime import show_native_log_on_error

    log = tmp_path / "native.log"
    log.write_text("I0000 cudart_stub: could not find cuda drivers\n"
                   "F0000 gpu_device.cc: Check failed: out of memory\n")
    script = (f"import os; from helpers.runtime import send_native_logs_to; "
              f"send_native_logs_to({str(log)!r}); os.write(2, b'I0000 cuInit chatter')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    # the previous kernel's last words are shown, its start-up chatter is not
    assert "Check failed: out of memory" in done.stderr and "cudart_stub" not in done.stderr
    assert log.read_text() == "I0000 cuInit chatter"  # a fresh log for this kernel
    log.write_text("W0000 a warning of a kernel that ended well\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stderr == ""  # no crash, nothing to say

    class Events:
        def __init__(self):
            self.callbacks = {}

        def register(self, name, callback):
            self.callbacks[name] = callback

    shell = types.SimpleNamespace(events=Events())
    assert show_native_log_on_error(log, shell)
    run = dict(shell.events.callbacks)
    shell.events.callbacks.clear()
    assert show_native_log_on_error(log, shell) and not shell.events.callbacks  # once
    shown = []
    import contextlib
    import io
    for error, written in ((None, "E0000 ignored: the cell succeeded\n"),
                           (RuntimeError("boom"), "E0000 ResourceExhausted: OOM on GPU\n")):
        run["pre_run_cell"](None)
        with log.open("a") as file:
            file.write(written)
        with contextlib.redirect_stderr(io.StringIO()) as err:
            run["post_run_cell"](types.SimpleNamespace(error_in_exec=error))
        shown.append(err.getvalue())
    assert shown[0] == ""
    assert "OOM on GPU" in shown[1] and "ignored" not in shown[1]


def test_a_command_line_tool_appends_to_the_log_of_the_kernel_that_runs_it(tmp_path):
    log = tmp_path / "native.log"
    log.write_text("F0000 a kernel's own lines, still being written\n")
    script = (f"import os; from helpers.runtime import native_logs_to_file\n"
              f"with native_logs_to_file({str(log)!r}): os.write(2, b'I0000 the tool')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert log.read_text() == "F0000 a kernel's own lines, still being written\nI0000 the tool"
    assert done.stderr == ""  # no report of a dead kernel: that is the Setup cell's job


def test_native_logs_that_cannot_be_written_change_nothing(tmp_path):
    blocker = tmp_path / "a file"
    blocker.write_text("")
    script = (f"import os; from helpers.runtime import send_native_logs_to; "
              f"print(send_native_logs_to({str(blocker / 'native.log')!r})); "
              f"os.write(2, b'still here')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert done.stdout.strip() == "None" and "still here" in done.stderr


def test_quick_demonstrations_are_the_tests_switch_not_a_setting(monkeypatch):
    from helpers.settings import quick_demo

    monkeypatch.setenv("CAPTION_QUICK", "1")
    assert quick_demo()
    assert "quick" not in get_settings().as_table()  # a learner's settings do not show it
    with pytest.raises(TypeError, match="unknown settings: quick"):
        get_settings(quick=True)
    monkeypatch.delenv("CAPTION_QUICK")
    assert not quick_demo()
    monkeypatch.setenv("CAPTION_QUICK", "maybe")
    with pytest.raises(ValueError, match="CAPTION_QUICK='maybe'"):
        quick_demo()
