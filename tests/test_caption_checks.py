"""The order and colour-with-shape measures of helpers.caption_checks (notebooks 06-08)."""

from __future__ import annotations

import math
import random

import pytest

from helpers.caption_checks import (
    colour_shape_rates,
    colour_shape_truth,
    format_checks,
    named_objects,
    order_rates,
    order_truth,
    reader_checks,
)
from helpers.shapes import Scene, Thing, describe, random_scene
from helpers.text import clean_caption

# a row, left to right: a small red circle, a large blue square, a small green star
ROW = Scene("black", (Thing("circle", "red", "small", 37, 112),
                      Thing("square", "blue", "large", 112, 112),
                      Thing("star", "green", "small", 187, 112)), "row")
# a column, top to bottom: a large yellow triangle, a small purple diamond
COLUMN = Scene("white", (Thing("triangle", "yellow", "large", 112, 37),
                         Thing("diamond", "purple", "small", 112, 112)), "column")
SINGLE = Scene("gray", (Thing("circle", "red", "small", 40, 40),), "single")


def _world(n: int = 600, seed: int = 3) -> list[tuple[Scene, list[str]]]:
    rng = random.Random(seed)
    return [(scene, describe(scene, rng)) for scene in (random_scene(rng) for _ in range(n))]


def test_every_reference_caption_is_right_by_both_measures():
    """The references are true statements: 100% right when stated, 100% colour with shape."""
    world = _world()
    for cleaned in (False, True):  # as written, and as the model's (cleaned) captions read
        captions, scenes = [], []
        for scene, references in world:
            for caption in references:
                captions.append(clean_caption(caption) if cleaned else caption)
                scenes.append(scene)
        order, pairs = order_rates(captions, scenes), colour_shape_rates(captions, scenes)
        assert order["share_right_when_stated"] == 1.0
        assert pairs["share_right_when_named"] == 1.0
        # three of the five captions of two or three objects state an order...
        assert order["stated"] == order["right"] == 3 / 5 * order["pictures"]
        # ...and all name a coloured object but "three shapes on a <colour> background"
        three = sum(len(s.things) == 3 for s in scenes)
        assert pairs["named"] == len(captions) - three / 5


def test_order_statements_of_every_kind():
    assert order_truth("a red circle to the left of a large blue square", ROW) == "right"
    assert order_truth("a green star to the right of a red circle .", ROW) == "right"
    assert order_truth("A red circle , a blue square and a green star from left to right .",
                       ROW) == "right"
    assert order_truth("a green star a blue square and a red circle from right to left",
                       ROW) == "right"
    assert order_truth("three shapes in a row a red circle a blue square and a green star",
                       ROW) == "right"
    assert order_truth("a blue square between a green star and a red circle", ROW) == "right"
    assert order_truth("a yellow triangle above a purple diamond", COLUMN) == "right"
    assert order_truth("a small diamond coloured purple below a triangle", COLUMN) == "right"
    assert order_truth("a yellow triangle and a purple diamond from top to bottom",
                       COLUMN) == "right"


def test_a_planted_wrong_order_is_wrong():
    wrong = [
        (ROW, "a blue square to the left of a red circle"),  # swapped
        (ROW, "a red circle above a blue square"),  # a row has no above
        (ROW, "a red circle a green star and a blue square from left to right"),
        (ROW, "a red circle a blue square and a green star from right to left"),
        (ROW, "three shapes in a column a red circle a blue square and a green star"),
        (ROW, "a red circle between a blue square and a green star"),  # not in the middle
        (ROW, "a large red circle to the left of a blue square"),  # the circle is small
        (ROW, "a red square to the left of a blue circle"),  # colours paired wrongly
        (ROW, "a red circle to the left of"),  # cut short: a statement that is not one
        (ROW, "a red circle from left to top"),
        (COLUMN, "a purple diamond above a yellow triangle"),
        (COLUMN, "a yellow triangle to the left of a purple diamond"),
        (SINGLE, "a red circle to the left of a red circle"),  # one object, two phrases
    ]
    for scene, caption in wrong:
        assert order_truth(caption, scene) == "wrong", caption


def test_a_caption_that_states_no_order_is_not_right():
    for caption in ("three shapes on a black background",
                    "a red circle a blue square and a green star on black",
                    "two shapes on white a yellow triangle and a purple diamond"):
        assert order_truth(caption, ROW) == "none"
    rates = order_rates(["three shapes on a black background",
                         "a yellow triangle above a purple diamond",
                         "a red circle on gray"], [ROW, COLUMN, SINGLE])
    assert (rates["pictures"], rates["stated"], rates["right"]) == (2, 1, 1)
    assert rates["share_stated"] == rates["share_right"] == 0.5
    assert rates["share_right_when_stated"] == 1.0


def test_identical_objects_each_need_a_place_of_their_own():
    twins = Scene("black", (Thing("square", "orange", "small", 37, 112),
                            Thing("square", "orange", "large", 187, 112)), "row")
    assert order_truth("an orange square to the right of an orange square", twins) == "right"
    assert order_truth("a small orange square to the right of a large orange square",
                       twins) == "wrong"
    assert order_truth("two orange squares in a row", twins) == "right"
    assert order_truth("two orange squares to the left of a red circle", twins) == "wrong"


def test_colour_with_shape():
    assert colour_shape_truth("a red circle to the left of a blue square", ROW) == "right"
    assert colour_shape_truth("a blue circle to the left of a red square", ROW) == "wrong"
    assert colour_shape_truth("a small star coloured green on a black background", ROW) == "right"
    assert colour_shape_truth("a small star coloured red on a black background", ROW) == "wrong"
    assert colour_shape_truth("two red circles and a green star", ROW) == "right"
    assert colour_shape_truth("three shapes on a black background", ROW) == "none"
    assert colour_shape_truth("a circle and a square", ROW) == "none"  # no colour named
    rates = colour_shape_rates(["a red circle", "a red square", "three shapes on black",
                                "a purple diamond below a yellow triangle"],
                               [ROW, ROW, ROW, COLUMN])
    assert (rates["captions"], rates["named"], rates["right"]) == (4, 3, 2)
    assert rates["share_named"] == 0.75
    assert rates["share_right_when_named"] == pytest.approx(2 / 3)


def test_planted_mistakes_in_the_references_fail_both_measures():
    """Swap the two objects of a reference, or their colours: each measure catches it."""
    swapped_order = swapped_colours = 0
    for scene, _ in _world():
        if len(scene.things) != 2:
            continue
        a, b = scene.things
        before = "to the left of" if scene.layout == "row" else "above"
        if (a.colour, a.shape) != (b.colour, b.shape):
            assert order_truth(f"{b.a()} {before} {a.a()}", scene) == "wrong"
            swapped_order += 1
        if a.colour != b.colour and a.shape != b.shape:
            caption = f"a {b.colour} {a.shape} {before} a {a.colour} {b.shape}"
            assert colour_shape_truth(caption, scene) == "wrong"
            assert order_truth(caption, scene) == "wrong"
            swapped_colours += 1
    assert swapped_order > 50 and swapped_colours > 50


def test_object_phrases_are_read_with_their_number_size_and_colour():
    symbols, objects = named_objects("Three shapes on gray , two small red circles and a star .")
    assert symbols == ["three", "shapes", "on", "gray", "O0", "and", "O1"]
    assert [(o.shape, o.colour, o.size, o.count) for o in objects] == [
        ("circle", "red", "small", 2), ("star", None, None, 1)]


def test_rates_need_one_caption_per_scene_and_say_nan_when_nothing_applies():
    with pytest.raises(ValueError, match="one per scene"):
        order_rates(["a red circle"], [ROW, COLUMN])
    with pytest.raises(ValueError, match="one per scene"):
        colour_shape_rates([], [])
    alone = order_rates(["a red circle"], [SINGLE])
    assert alone["pictures"] == 0 and math.isnan(alone["share_right"])
    assert math.isnan(colour_shape_rates(["two shapes"], [ROW])["share_right_when_named"])


def test_the_table_gives_each_count_with_what_it_is_out_of():
    checks = {"greedy": reader_checks(["a red circle to the left of a blue square",
                                       "three shapes on a black background"], [ROW, ROW]),
              "none": reader_checks(["a red circle"], [SINGLE])}
    lines = format_checks(checks).splitlines()
    assert len(lines) == 4 and max(map(len, lines)) <= 100
    assert lines[2].split() == ["greedy", "1", "of", "1", "(100%)", "1", "of", "2", "(50%)",
                                "1", "of", "1", "(100%)", "1", "of", "2", "(50%)"]
    assert lines[3].split()[-4:] == ["0", "of", "0", "(-)"]
