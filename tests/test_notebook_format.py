"""`make format` (tools/notebooks.py): badges and Setup cells from one address, clean notebooks."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tools import notebooks as fmt

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def copy(tmp_path):
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    return tmp_path


def test_the_committed_notebooks_are_formatted():
    assert fmt.run(ROOT, check=True) == [], "run `make format`"


def test_each_notebook_has_its_own_badges_and_the_setup_from_one_address():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        first = "".join(cells[0]["source"])
        assert all(line in first for line in fmt.badges(path.name))
        assert first.count("blob/main/notebooks/") == 2  # both badges, this file only
        setup = [c for c in cells if fmt.SETUP_MARK in "".join(c["source"])]
        assert len(setup) == 1 and "".join(setup[0]["source"]) == fmt.setup_cell(path.name)
        assert "tensorflow" not in fmt.setup_cell(path.name).lower()  # never re-pinned


def test_formatting_cleans_up_and_a_second_run_changes_nothing(copy):
    path = copy / "notebooks" / "06_evaluation.ipynb"
    nb = json.loads(path.read_text())
    nb["metadata"]["widgets"] = {"state": {}}
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    checked = next(c for c in code if fmt.is_checked(c))
    plain = next(c for c in code if not fmt.is_checked(c))
    plain["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}]
    plain["execution_count"], plain["metadata"] = 7, {"scrolled": True, "tags": ["x"]}
    nb["cells"][0]["source"] = [line.replace("06_evaluation", "05_training")
                                for line in nb["cells"][0]["source"]]
    path.write_text(json.dumps(nb, indent=1))

    assert fmt.run(copy, check=True) == ["notebooks/06_evaluation.ipynb"]
    assert fmt.run(copy) == ["notebooks/06_evaluation.ipynb"]
    assert fmt.run(copy) == []  # idempotent
    tidy = json.loads(path.read_text())
    assert tidy["metadata"] == fmt.metadata("06_evaluation.ipynb")
    assert tidy["metadata"]["accelerator"] == "GPU"
    # a GPU only where a network runs: 03 counts words, 01 loads files
    assert "accelerator" not in fmt.metadata("03_vocabulary.ipynb")
    assert "accelerator" not in fmt.metadata("01_data_loading.ipynb")
    cells = {c["id"]: c for c in tidy["cells"]}
    assert cells[plain["id"]]["outputs"] == [] and cells[plain["id"]]["execution_count"] is None
    assert cells[plain["id"]]["metadata"] == {"tags": ["x"]}
    assert cells[checked["id"]]["outputs"] == checked["outputs"]  # nbval checks these
    assert "05_training" not in "".join(tidy["cells"][0]["source"])


def test_a_new_address_reaches_every_notebook_and_the_readme(copy, monkeypatch):
    monkeypatch.setattr(fmt, "REPO_URL", "https://github.com/someone/captions-course")
    changed = fmt.run(copy)
    assert "README.md" in changed and len(changed) == 1 + len(
        list((copy / "notebooks").glob("[0-9][0-9]_*.ipynb")))
    text = "\n".join(p.read_text() for p in (copy / "notebooks").glob("*.ipynb"))
    text += (copy / "README.md").read_text()
    assert "caption-tutorial/vgg16-lstm-captioning" not in text
    assert 'REPO_URL = \\"https://github.com/someone/captions-course\\"' in text  # Setup cells
    assert "colab.research.google.com/github/someone/captions-course/blob/main/notebooks/" in text
    assert fmt.run(copy) == []
