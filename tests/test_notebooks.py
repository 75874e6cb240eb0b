"""Committed notebooks: no outputs (except checked ones), and the series' template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, f"no notebooks in {NOTEBOOK_DIR}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    for index, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        if "nbval-check-output" in cell["metadata"].get("tags", []):
            assert cell["outputs"], f"{path.name} cell {index}: checked output is missing"
        else:
            assert not cell["outputs"], f"{path.name} cell {index} has outputs; clear them"
            assert cell["execution_count"] is None, f"{path.name} cell {index}: execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_follows_the_template(path):
    cells = json.loads(path.read_text())["cells"]
    text = "\n".join("".join(c["source"]) for c in cells)
    assert cells[0]["source"][0].startswith("# "), "starts with a title"
    assert f"blob/main/notebooks/{path.name}" in text, "Colab badge points at this notebook"
    for heading in ("## Overview", "## Setup", "## Summary", "## Exercises", "## References"):
        assert heading in text, f"{path.name} lacks a '{heading}' section"
    assert any("parameters" in c.get("metadata", {}).get("tags", []) for c in cells), (
        f"{path.name} has no cell tagged 'parameters'"
    )
    assert "NBVAL" not in text, "nbval's markers go in cell tags, out of the lesson's code"
    ids = [c.get("id") for c in cells]
    assert None not in ids and len(set(ids)) == len(ids), "every cell has its own id (make format)"
    summary = next(i for i, c in enumerate(cells) if "".join(c["source"]).startswith("## Summary"))
    last_code = [c for c in cells[:summary] if c["cell_type"] == "code"][-1]
    assert "print(took(STARTED))" in "".join(last_code["source"]), (
        f"{path.name}: the last code cell prints how long the notebook took (make format)")
