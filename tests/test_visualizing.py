"""Notebook 07's figures and the numbers behind them."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from helpers.metrics import coco_metrics, per_image_cider, vocabulary_use
from helpers.plots import (
    plot_best_and_worst,
    plot_captions,
    plot_length_distributions,
    plot_truth_confusion,
    plot_vocabulary_use,
)
from helpers.shapes import Scene, Thing, draw_scene
from helpers.shapes_truth import (
    CONFUSION_KINDS,
    said_count,
    said_relation,
    share_right,
    truth_confusion,
)

RED_CIRCLE = Scene("white", (Thing("circle", "red", "small", 40, 40),), "single")
ROW = Scene("gray", (Thing("star", "blue", "large", 40, 110),
                     Thing("star", "blue", "small", 180, 110)), "row")
COLUMN = Scene("black", (Thing("square", "green", "small", 110, 40),
                         Thing("circle", "yellow", "small", 110, 110),
                         Thing("diamond", "green", "large", 110, 180)), "column")
REFERENCES = [["a red circle on a white background .", "there is one red circle on white ."],
              ["two blue stars side by side .", "a blue star to the left of a blue star ."],
              ["a green square above a yellow circle .", "three shapes in a column ."]]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def pictures():
    return [np.asarray(draw_scene(s)) for s in (RED_CIRCLE, ROW, COLUMN)]


def test_the_caption_grid_titles_each_picture_with_its_captions(tmp_path):
    generated = [{"greedy": "a red circle", "beam3": "a small red circle on white"},
                 {"greedy": "two blue stars", "beam3": "a blue star left of a blue star"},
                 {"greedy": "three shapes", "beam3": "three shapes in a column"}]
    fig = plot_captions(pictures(), generated, REFERENCES, names=["one", "two", "three"],
                        ncols=2, run_dir=tmp_path)
    panels = [ax for ax in fig.axes if ax.images]
    assert len(panels) == 3 and len(fig.axes) == 4  # a 2x2 grid, one left empty
    for ax, captions, name in zip(panels, generated, ["one", "two", "three"]):
        title = " ".join(ax.get_title(loc="left").split())
        assert title.startswith(name)
        assert all(f"{method}: {text}" in title for method, text in captions.items())
        assert "human: " in ax.texts[0].get_text()
    assert (tmp_path / "figures" / "captions.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="2 sets of captions for 3 images"):
        plot_captions(pictures(), generated[:2])


def test_best_and_worst_are_ranked_by_the_score(tmp_path):
    images = pictures() * 2
    captions = [f"caption {k}" for k in range(6)]
    scores = [0.5, 2.0, 0.1, 1.5, 0.0, 3.0]
    fig = plot_best_and_worst(images, captions, scores, n=2, run_dir=tmp_path)
    titles = [" ".join(ax.get_title(loc="left").split()) for ax in fig.axes]
    assert titles[0].startswith("best: CIDEr 3.00") and "caption 5" in titles[0]
    assert titles[1].startswith("best: CIDEr 2.00") and "caption 1" in titles[1]
    assert titles[2].startswith("worst: CIDEr 0.00") and "caption 4" in titles[2]
    assert titles[3].startswith("worst: CIDEr 0.10") and "caption 2" in titles[3]
    assert (tmp_path / "figures" / "best_and_worst.png").exists()


def test_per_image_cider_averages_to_the_corpus_cider():
    generated = ["a red circle on a white background", "a blue star", "a red circle"]
    each = per_image_cider(REFERENCES, generated)
    assert each.shape == (3,)
    assert each.mean() == pytest.approx(coco_metrics(REFERENCES, generated,
                                                     meteor=False)["CIDEr"])
    assert each[0] > each[2]  # the wrong caption of the third picture scores lowest
    assert each.argmin() == 2


def test_lengths_and_vocabulary_use(tmp_path):
    generated = ["a red circle", "a blue star", "a red circle"]
    use = vocabulary_use(generated, REFERENCES, top=3)
    assert use["generated_distinct"] == 5  # a red circle blue star
    assert use["reference_distinct"] > use["generated_distinct"]
    excess = [made - said for _, made, said in use["overused"]]
    assert excess == sorted(excess, reverse=True) and min(excess) > 0
    assert use["overused"][0][0] == "red"  # 2 of the 9 generated words, 2 of 40 human ones
    never = [w for w, _ in use["never_used"]]
    assert never[0] == "on" and not set(never) & {"a", "red", "circle", "blue", "star"}

    fig = plot_length_distributions({"greedy": generated}, REFERENCES, run_dir=tmp_path)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels[0].startswith("human (mean") and labels[1] == "greedy (mean 3.0)"
    fig = plot_vocabulary_use(use, run_dir=tmp_path)
    assert [ax.get_title() for ax in fig.axes] == [
        "distinct words", "most over-used words", "frequent human words never generated"]
    assert {p.name for p in (tmp_path / "figures").iterdir()} == {
        "caption_lengths.png", "vocabulary_use.png"}


def test_what_a_caption_says_about_count_and_layout():
    assert said_count("two red circles and a blue square") == 3
    assert said_count("three shapes on a black background") == 3
    assert said_count("there is one red circle on white") == 1
    assert said_count("a shape on white") is None
    assert said_relation("a red star to the left of a blue circle") == "row"
    assert said_relation("a red star from top to bottom") == "column"
    assert said_relation("a red star above a circle to the right") == "both"
    assert said_relation("two shapes on gray") == "none"


def test_the_truth_confusion_puts_each_caption_where_it_belongs(tmp_path):
    captions = ["a red circle on a white background",  # all right
                "a blue star to the left of a blue circle",  # colour right, shape wrong
                "a green square and a red circle"]  # colour several, count 2 of 3, no layout
    confusion = truth_confusion(captions, [RED_CIRCLE, ROW, COLUMN])
    assert tuple(confusion) == CONFUSION_KINDS

    def cell(kind, held, said):
        table = confusion[kind]
        return table["counts"][table["held"].index(held), table["said"].index(said)]

    assert cell("colour", "red", "red") == 1 and cell("colour", "blue", "blue") == 1
    assert confusion["colour"]["counts"].sum() == 2  # the column picture has two colours
    assert cell("shape", "circle", "circle") == 1 and cell("shape", "star", "several") == 1
    assert cell("count", "1", "1") == 1 and cell("count", "2", "2") == 1
    assert cell("count", "3", "2") == 1
    assert cell("relation", "row", "row") == 1 and cell("relation", "column", "none") == 1
    assert confusion["relation"]["counts"].sum() == 2  # one object has no layout
    assert share_right(confusion["count"]) == pytest.approx(2 / 3)
    assert share_right(confusion["colour"]) == 1.0

    fig = plot_truth_confusion(confusion, run_dir=tmp_path, title="test")
    assert [ax.get_title() for ax in fig.axes] == list(CONFUSION_KINDS)
    assert (tmp_path / "figures" / "truth_confusion.png").exists()
    with pytest.raises(ValueError, match="2 captions for 3 scenes"):
        truth_confusion(captions[:2], [RED_CIRCLE, ROW, COLUMN])
