"""The series' two writing rules hold (docs/writing.md), and the checks can fail.

Every number a learner reads is printed by the run or labelled with what it is;
every term is defined, or linked to the glossary, at its first use.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tools import prose

ROOT = Path(__file__).resolve().parents[1]


def test_every_number_in_the_prose_is_printed_by_the_run_or_labelled():
    problems = prose.number_problems(ROOT)
    assert not problems, "\n".join(map(str, problems))


def test_every_term_is_defined_at_its_first_use():
    problems = prose.term_problems(ROOT)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("planted, kind", [
    ("Training took 4.1 min on this machine.", "time"),
    ("The captions name the right colour 96% of the time.", "percentage"),
    ("Greedy decoding scored BLEU-4 0.603.", "metric value"),
    ("VGG16 reads about 3 images per second here.", "speed"),
    ("Batching is 2.7x faster.", "speed-up"),
    ("Attention is 2.6 times uniform.", "speed-up"),
])
def test_a_planted_unlabelled_number_is_found(planted, kind):
    problems = prose.unlabelled_numbers(f"Some text.\n\n{planted}\n", "planted.md")
    assert [p.where for p in problems] == ["planted.md:3"]
    assert problems[0].what.startswith(kind)


@pytest.mark.parametrize("labelled", [
    "Training took 4.1 min (measured: 2-core x86_64, 2026-11-27).",
    "Xu et al. report BLEU-4 0.195\n(published: Xu et al. 2015, Table 1).",
    "Attention put 1.66-4.34 times the uniform weight on the object\n"
    "(sweep: make sweep, 2-core x86_64, 2026-11-27).",
    "On a T4 this takes about 3 min (estimate).",
    "The notebook asserts at least 1.3 times (setting: `NOTEBOOK_08_FLOOR`).",
    "A setting in code is not prose: `EPOCHS = 20`, `0.5`, `ONEDNN_MAX_CPU_ISA`.",
    "Python 3.10+, TensorFlow 2.16 or newer, Keras 3.7, arXiv:1502.03044.",
    "Each picture is 224×224 pixels; the grid is 14x14x512, 196 places.",
])
def test_labelled_numbers_settings_and_versions_pass(labelled):
    assert prose.unlabelled_numbers(labelled, "ok.md") == []


def test_a_table_is_covered_by_its_caption_or_header_and_nothing_else():
    table = "| notebook | time |\n| --- | --- |\n| 05 | 4.1 min |\n"
    assert prose.unlabelled_numbers(table, "t.md")[0].where == "t.md:3"
    captioned = "Times (measured: 2-core x86_64, 2026-11-27):\n\n" + table
    assert prose.unlabelled_numbers(captioned, "t.md") == []
    headed = table.replace("| time |", "| time (estimate) |")
    assert prose.unlabelled_numbers(headed, "t.md") == []
    # a caption covers its own table, not the next paragraph
    after = captioned + "\nLater, 5.0 min.\n"
    assert [p.where for p in prose.unlabelled_numbers(after, "t.md")] == ["t.md:7"]


def test_an_introduction_covers_its_list_until_the_next_paragraph():
    text = ("Measured once (measured: 2-core x86_64, 2026-11-26):\n\n"
            "* stars 3.5 times the uniform share;\n* circles 2.2 times.\n\n"
            "A new paragraph: 2.4 times.\n")
    assert [p.where for p in prose.unlabelled_numbers(text, "l.md")] == ["l.md:6"]


def test_a_measured_label_without_a_date_does_not_count():
    problems = prose.unlabelled_numbers("It took 4.1 min (measured on my laptop).", "d.md")
    assert any("needs a date" in p.what for p in problems)


@pytest.fixture
def series(tmp_path):
    """A copy of the notebooks and the glossary, to plant mistakes in."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / prose.GLOSSARY, tmp_path / prose.GLOSSARY)
    return tmp_path


def _plant(root: Path, notebook: str, text: str) -> int:
    """Insert a markdown cell with ``text`` after the notebook's Overview; its index."""
    path = root / "notebooks" / notebook
    nb = json.loads(path.read_text())
    index = 2
    nb["cells"].insert(index, {"cell_type": "markdown", "id": "planted", "metadata": {},
                               "source": [text]})
    path.write_text(json.dumps(nb))
    return index


def test_a_planted_undefined_term_is_found(series):
    assert prose.term_problems(series) == []
    index = _plant(series, "00_environment_check.ipynb",
                   "Later we decode with teacher forcing and score with CIDEr.")
    found = {(p.where, p.what.split("'")[1]) for p in prose.term_problems(series)}
    assert found == {(f"notebooks/00_environment_check.ipynb cell {index}", "teacher forcing"),
                     (f"notebooks/00_environment_check.ipynb cell {index}", "CIDEr")}


def test_a_bold_definition_or_a_glossary_link_settles_a_term(series):
    _plant(series, "00_environment_check.ipynb",
           "**Teacher forcing** feeds the true previous word; "
           "[CIDEr](../docs/glossary.md#cider) weighs rare words.")
    assert prose.term_problems(series) == []


def test_every_term_has_a_glossary_entry(series):
    glossary = series / prose.GLOSSARY
    glossary.write_text(glossary.read_text().replace("### METEOR\n", "### Meteors\n"))
    assert [str(p) for p in prose.term_problems(series)] == [
        "docs/glossary.md: no '### METEOR' entry"]
