"""`make sweep` (benchmarks/quality_sweep.py) reports every notebook check it measures."""

from __future__ import annotations

from benchmarks import quality_sweep


def _row(seed: int, attention: float | None) -> dict:
    real = {column: 0.5 for column in quality_sweep.COLUMNS}
    if attention is not None:
        real["08 on named / uniform"] = attention
        real["08 epochs"] = 8
    return {"isa": "default", "seed": seed, "best_epoch": 3, "real": real,
            "blind": {column: 0.1 for column in quality_sweep.COLUMNS}}


def test_the_report_gives_notebook_08s_worst_case_against_its_threshold():
    lines = quality_sweep.report([_row(0, 2.9), _row(1, 1.7)])
    assert lines[-1] == ("notebook 08, attention on the named object / a uniform map's share: "
                         "trained 8 epochs, smallest 1.70 of 2 runs (asserted: 1.3)")


def test_without_the_attention_model_the_report_leaves_08_out():
    assert not any("notebook 08" in line for line in quality_sweep.report([_row(0, None)]))


def test_the_sweep_trains_notebook_08s_model_for_as_many_epochs_as_make_test(monkeypatch):
    from pathlib import Path

    from helpers.settings import QUICK_VARIABLE, demo_epochs

    monkeypatch.setenv(QUICK_VARIABLE, "1")  # as conftest.py sets it for make test
    assert demo_epochs(20) == 8 and demo_epochs(3) == 3
    monkeypatch.setenv(QUICK_VARIABLE, "0")  # make tutorial
    assert demo_epochs(20) == 20
    # both take their epochs from that one rule, so they cannot drift apart
    notebook = (Path(__file__).parents[1] / "notebooks" / "08_attention.ipynb").read_text()
    sweep = Path(quality_sweep.__file__).read_text()
    assert "EPOCHS = demo_epochs(settings.epochs)" in notebook
    # and the sweep reports the threshold the notebook asserts
    assert f"assert on_object >= {quality_sweep.NOTEBOOK_08_FLOOR} * uniform" in notebook
    assert "demo_epochs(run.settings.epochs)" in sweep and 'CAPTION_QUICK="1"' in sweep
