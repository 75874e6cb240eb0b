"""helpers.answers: a notebook's function from Python, and the student bundle's stand-ins."""

from __future__ import annotations

import json
import sys
import types

import pytest

from helpers import answers

ANSWERED = "def double(x):\n    \"\"\"Twice x.\"\"\"\n    return 2 * x\n"
TODO = ("def double(x):\n    \"\"\"Twice x.\"\"\"\n"
        "    raise NotImplementedError(\"TODO double (assignment 9, 1 point): hint\")\n")


def notebook(path, *sources):
    cells = [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [],
              "execution_count": None} for s in sources]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4,
                                "nbformat_minor": 5}))


@pytest.fixture
def places(tmp_path, monkeypatch):
    """The bundle's notebooks/ folder and Colab's Drive folder, empty; no __main__ answer."""
    bundle, drive = tmp_path / "notebooks", tmp_path / "drive"
    bundle.mkdir()
    drive.mkdir()
    monkeypatch.setattr(answers, "NOTEBOOKS", bundle)
    monkeypatch.setattr(answers, "COLAB_NOTEBOOKS", drive)
    monkeypatch.setitem(sys.modules, "__main__", types.ModuleType("__main__"))
    return bundle, drive


def test_notebook_function_brings_imports_constants_and_earlier_functions(tmp_path):
    notebook(tmp_path / "nb.ipynb", "import math\nSCALE = 3\ndata = load_everything()\n",
             "%pip install -q something", "def helper(x):\n    return x * SCALE\n",
             "def scaled(x):\n    return helper(math.floor(x))\n\nscaled(2.5)\n")
    scaled = answers.notebook_function(tmp_path / "nb.ipynb", "scaled")
    assert scaled(2.5) == 6  # no cell with a call ran: load_everything() does not exist
    with pytest.raises(LookupError, match="no code cell defines missing"):
        answers.notebook_function(tmp_path / "nb.ipynb", "missing")


def test_the_students_copy_in_drive_wins_and_an_unanswered_copy_is_skipped(places):
    bundle, drive = places
    notebook(bundle / "04_model.ipynb", TODO)
    notebook(drive / "Copy of 04_model.ipynb", ANSWERED)  # Colab's name for a saved copy
    assert answers.student_answer("04_model.ipynb", "double")(4) == 8
    notebook(drive / "Copy of 04_model.ipynb", TODO)
    notebook(bundle / "04_model.ipynb", ANSWERED)
    assert answers.student_answer("04_model.ipynb", "double")(4) == 8


def test_an_unanswered_todo_raises_its_own_message_and_a_missing_one_says_where(places):
    bundle, _ = places
    notebook(bundle / "04_model.ipynb", TODO)
    with pytest.raises(NotImplementedError, match=r"TODO double \(assignment 9"):
        answers.student_answer("04_model.ipynb", "double")(4)
    with pytest.raises(NotImplementedError, match="yours to write, in notebooks/08_attention"):
        answers.student_answer("08_attention.ipynb", "double")


def test_the_running_notebooks_own_function_comes_first(places):
    bundle, _ = places
    notebook(bundle / "04_model.ipynb", TODO)
    main = sys.modules["__main__"]
    exec("def double(x):\n    return x + x\n", main.__dict__)
    assert answers.student_answer("04_model.ipynb", "double")(5) == 10


def test_names_used_lists_what_an_answer_calls():
    def answer(targets, probs):
        import keras

        return keras.losses.SparseCategoricalCrossentropy(ignore_class=0)(targets, probs)

    used = answers.names_used(answer)
    assert {"SparseCategoricalCrossentropy", "ignore_class", "keras", "losses"} <= used
