"""Several devices and mixed precision (helpers.distribute, helpers.training.fit).

The training runs happen in a process of their own (``tests/two_devices.py``),
on the CPU split into two logical devices. The tolerance, stated once: a run
on two replicas, or in ``mixed_bfloat16``, ends within 10% of one float32
device's loss, after training that brings the loss down from ln(vocabulary)
(about 3.4) to about 0.6. The two replicas see the same captions in the same
order from the same weights; what differs is each replica's own dropout masks
and its own mean over its real words (docs/scaling.md), which is why the runs
agree closely but not exactly (docs/scaling.md gives the differences a sweep of
ONEDNN_MAX_CPU_ISA found). Mixed precision is tested where the CPU computes in
bfloat16, and skipped elsewhere.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from helpers import distribute
from helpers.distribute import (
    check_precision,
    check_strategy,
    cpu_has_bfloat16,
    precision_policy,
    scaled_learning_rate,
)
from helpers.runtime import repo_root
from helpers.settings import get_settings

TOLERANCE = 0.10


_STARTED: dict = {}


def start_runs() -> None:
    """Start ``tests/two_devices.py`` in the background, once. ``conftest.py`` does it as soon
    as the tests are collected, so its half minute of training overlaps the tests before
    these (mostly waiting on notebook kernels) instead of adding to them."""
    if not _STARTED:
        folder = Path(tempfile.mkdtemp(prefix="two-devices-"))
        _STARTED.update(folder=folder, process=subprocess.Popen(
            [sys.executable, "-m", "tests.two_devices", str(folder / "runs.json")],
            cwd=repo_root(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))


@pytest.fixture(scope="module")
def runs() -> dict:
    start_runs()
    _, stderr = _STARTED["process"].communicate(timeout=600)
    folder = _STARTED["folder"]
    try:
        assert _STARTED["process"].returncode == 0, stderr[-3000:]
        return json.loads((folder / "runs.json").read_text())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= TOLERANCE * b


@pytest.mark.parametrize("kind", ["merge", "attention"])
def test_two_replicas_train_to_the_loss_of_one_device(runs, kind):
    one, two = runs[f"{kind}-none"], runs[f"{kind}-mirrored"]
    assert (one["replicas"], two["replicas"]) == (1, 2)
    # a third of the loss at least goes (a sweep of seeds: it ends at 0.2-0.45 of its start)
    assert one["loss"][-1] < 2 / 3 * one["initial_loss"], "the small model should learn"
    for key in ("loss", "val_loss"):
        assert _close(two[key][-1], one[key][-1]), (key, two[key], one[key])


def test_a_mirrored_run_resumes_from_its_checkpoint(runs):
    two = runs["merge-mirrored"]
    assert two["resumed_from"] == 2 and len(two["loss"]) == 3
    assert two["val_loss"][2] < two["val_loss"][1], "the resumed epoch goes on learning"


@pytest.mark.parametrize("kind", ["merge", "attention"])
def test_mixed_precision_trains_to_the_float32_loss_with_a_float32_softmax(runs, kind):
    one, mixed = runs[f"{kind}-none"], runs[f"{kind}-mixed"]
    if "skipped" in mixed:
        pytest.skip("this CPU has no bfloat16 instructions (or ONEDNN_MAX_CPU_ISA hides them)")
    assert mixed["compute_dtype"] == "bfloat16" and mixed["output_dtype"] == "float32"
    assert one["compute_dtype"] == "float32"
    for key in ("loss", "val_loss"):
        assert _close(mixed[key][-1], one[key][-1]), (key, mixed[key], one[key])
    # saved with its 16-bit layers, the model computes in float32 once loaded, as closely
    assert "bfloat16" in mixed["saved_dtypes"]
    assert not [d for d in mixed["loaded_dtypes"] if "16" in d], mixed["loaded_dtypes"]
    assert mixed["loaded_difference"] < 0.05  # probabilities: bfloat16 rounds at 1 in 256


def test_a_batch_split_between_two_devices_gives_the_same_features_in_order(runs):
    split = runs["extraction"]
    assert split["replicas"] == 2 and split["shapes"] == [[5, 4], [5, 16, 16, 4]]
    assert split["largest_difference"] < 1e-5


def test_the_learning_rate_scales_with_the_replicas():
    assert scaled_learning_rate(1) == 1e-3  # one device: the series' own rate
    assert scaled_learning_rate(8) == pytest.approx(8e-3)
    with pytest.raises(ValueError, match="at least one replica"):
        scaled_learning_rate(0)


def test_the_precision_follows_the_device(tmp_path, monkeypatch):
    assert precision_policy("float32", kind="gpu") == "float32"
    assert precision_policy("mixed", kind="gpu") == "mixed_float16"
    assert precision_policy("mixed", kind="tpu") == "mixed_bfloat16"
    with_bf16, without = tmp_path / "with", tmp_path / "without"
    with_bf16.write_text("flags\t\t: fpu sse2 avx2 avx512f avx512_bf16\n")
    without.write_text("flags\t\t: fpu sse2 avx2\n")
    assert cpu_has_bfloat16(with_bf16) and not cpu_has_bfloat16(without)
    assert not cpu_has_bfloat16(tmp_path / "absent")  # not Linux: no claim
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")  # oneDNN kept below bfloat16
    assert not cpu_has_bfloat16(with_bf16)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_AMX")
    assert cpu_has_bfloat16(with_bf16)
    monkeypatch.setattr(distribute, "cpu_has_bfloat16", lambda: False)
    with pytest.raises(ValueError, match="cannot compute in 16 bits.*CAPTION_PRECISION=float32"):
        precision_policy("mixed", kind="cpu")
    monkeypatch.setattr(distribute, "cpu_has_bfloat16", lambda: True)
    assert precision_policy("mixed", kind="cpu") == "mixed_bfloat16"


def test_the_settings_check_strategy_and_precision(monkeypatch):
    assert check_strategy(" Mirrored ") == "mirrored" and check_precision("MIXED") == "mixed"
    settings = get_settings(dataset="shapes")
    assert (settings.strategy, settings.precision) == ("none", "float32")
    monkeypatch.setenv("CAPTION_STRATEGY", "mirored")
    monkeypatch.setenv("CAPTION_PRECISION", "half")
    settings = get_settings(dataset="shapes")
    assert settings.dataset == "shapes"  # the other settings still work
    with pytest.raises(ValueError, match="'mirored' is not a strategy; choose one of none, mirr"):
        _ = settings.strategy
    with pytest.raises(ValueError, match="'half' is not a precision; choose one of float32, mixed"):
        _ = settings.precision
