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


def _row_09(seed: int, transformer: float | None, merge: float | None, isa: str = "default"):
    row = _row(seed, None)
    row["isa"] = isa
    checks = {name: {"colour_shape share_right_when_named": pairs, "order share_right": 0.25,
                     "order share_stated": 0.5}
              for name, pairs in (("transformer", transformer), ("merge", merge))}
    row["09"] = {"best epoch": 7, "epochs": 8, **checks}
    return row


def test_the_report_gives_notebook_09s_worst_cases():
    lines = quality_sweep.report_09([_row_09(0, 0.9, 0.6), _row_09(1, 0.8, 0.7),
                                     _row_09(2, None, 0.5)])
    assert lines[0].startswith("notebook 09, transformer / merge, greedy (the transformer "
                               "trained 8 epochs)")
    assert lines[-1].startswith("colour with shape right when named: transformer smallest 80%, "
                                "merge largest 70%, transformer minus merge smallest +10 points "
                                "of 3 runs")
    assert any(" - " in line and "50%" in line for line in lines[2:-1])  # none named: "-"
    assert lines[-1].endswith(f"(asserted: transformer at least "
                              f"{quality_sweep.NOTEBOOK_09_FLOOR:.0%})")


def test_without_the_transformer_the_report_leaves_09_out():
    assert not any("notebook 09" in line for line in quality_sweep.report([_row(0, 2.0)]))


class _FakeChild:
    """Stands in for the child process: records what it was asked, returns rows at once."""

    def __init__(self, fail_after: int | None = None):
        self.calls, self.fail_after = [], fail_after

    def __call__(self, isa, seeds, images, folder, encoder, attention, transformer):
        self.calls.append((isa, list(seeds)))
        (folder / isa).mkdir(parents=True, exist_ok=True)
        for done, seed in enumerate(seeds):
            if self.fail_after is not None and done == self.fail_after:
                raise RuntimeError("the child failed")
            yield _row_09(seed, 0.9, 0.6, isa=isa)


def _sweep(monkeypatch, tmp_path, seeds, child, **options):
    monkeypatch.setattr(quality_sweep, "_measure", child)
    return quality_sweep.run(seeds, ["default", "SSE41"], 200, tmp_path, **options)


def test_the_sweep_keeps_each_instruction_sets_rows_and_does_not_measure_them_again(
        monkeypatch, tmp_path):
    import json

    child = _FakeChild()
    rows = _sweep(monkeypatch, tmp_path, [0, 1], child)
    assert child.calls == [("default", [0, 1]), ("SSE41", [0, 1])]
    assert [(r["isa"], r["seed"]) for r in rows] == [("default", 0), ("default", 1),
                                                     ("SSE41", 0), ("SSE41", 1)]
    saved = json.loads((tmp_path / "SSE41.json").read_text())
    assert saved["images"] == 200 and saved["encoder"] == "shapes-vgg-small"
    assert [r["seed"] for r in saved["rows"]] == [0, 1]

    child = _FakeChild()
    assert _sweep(monkeypatch, tmp_path, [0, 1], child) == rows and child.calls == []
    child = _FakeChild()  # one more seed: only that one is measured
    assert len(_sweep(monkeypatch, tmp_path, [0, 1, 2], child)) == 6
    assert child.calls == [("default", [2]), ("SSE41", [2])]
    child = _FakeChild()  # a subset: nothing to measure, only those rows back
    assert [r["seed"] for r in _sweep(monkeypatch, tmp_path, [1], child)] == [1, 1]
    assert child.calls == []


def test_other_settings_or_again_measure_an_instruction_set_afresh(monkeypatch, tmp_path):
    _sweep(monkeypatch, tmp_path, [0, 1], _FakeChild())
    child = _FakeChild()
    _sweep(monkeypatch, tmp_path, [0, 1], child, transformer=False)  # other models
    assert child.calls == [("default", [0, 1]), ("SSE41", [0, 1])]
    (tmp_path / "default" / "model.keras").write_text("an old model")
    child = _FakeChild()
    _sweep(monkeypatch, tmp_path, [0, 1], child, transformer=False, again=True)
    assert child.calls == [("default", [0, 1]), ("SSE41", [0, 1])]
    assert not (tmp_path / "default" / "model.keras").exists()  # its models made afresh


def test_a_failed_child_keeps_the_seeds_it_measured(monkeypatch, tmp_path):
    import pytest

    with pytest.raises(RuntimeError, match="the child failed"):
        _sweep(monkeypatch, tmp_path, [0, 1, 2], _FakeChild(fail_after=1))
    child = _FakeChild()
    _sweep(monkeypatch, tmp_path, [0, 1, 2], child)
    assert child.calls == [("default", [1, 2]), ("SSE41", [0, 1, 2])]


def test_the_sweep_trains_notebook_09s_transformer_as_the_notebook_does():
    from pathlib import Path

    notebook = (Path(__file__).parents[1] / "notebooks" / "09_transformer.ipynb").read_text()
    sweep = Path(quality_sweep.__file__).read_text()
    assert "EPOCHS = demo_epochs(settings.epochs)" in notebook
    assert "fit(model, vocab, train, val, transformer_dir, epochs=EPOCHS" in notebook
    assert 'load_or_train(as_notebook_09, model="transformer"' in sweep
    if quality_sweep.NOTEBOOK_09_FLOOR is not None:  # the sweep reports the floor 09 asserts
        assert "NOTEBOOK_09_FLOOR" in notebook
        assert f">= {quality_sweep.NOTEBOOK_09_FLOOR}" in notebook
