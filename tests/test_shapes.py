"""The shapes world: deterministic, in the Flickr8k layout, captions that tell the truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from helpers.data import load_dataset
from helpers.shapes import (
    BACKGROUNDS,
    COLOURS,
    SHAPES,
    Scene,
    Thing,
    load_scenes,
    make_shapes_world,
)
from helpers.shapes_truth import TRUTH_KINDS, caption_truth, truth_rates
from helpers.text import clean_caption


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    return load_dataset("shapes", root=root, n_images=60, seed=3)


def test_world_is_in_flickr8k_layout(world):
    assert world.layout == "official"
    assert world.report.is_clean
    assert len(world.captions) == 60
    assert {s: len(n) for s, n in world.splits.items()} == {"train": 48, "val": 6, "test": 6}
    assert all(len(set(c)) == 5 for c in world.captions.values()), "five different phrasings"
    with Image.open(world.image_path(world.splits["test"][0])) as image:
        assert image.format == "JPEG" and image.size == (224, 224) and image.mode == "RGB"


def test_same_seed_same_world_other_seed_other_world(tmp_path, world):
    again = load_dataset("shapes", root=tmp_path / "again", n_images=60, seed=3)
    assert again.captions == world.captions
    name = world.splits["train"][0]
    assert np.array_equal(
        np.asarray(Image.open(again.image_path(name))),
        np.asarray(Image.open(world.image_path(name))),
    )
    other = load_dataset("shapes", root=tmp_path / "other", n_images=60, seed=4)
    assert other.captions != world.captions


def test_changed_settings_rebuild_the_world(tmp_path):
    root = tmp_path / "w"
    assert len(load_dataset("shapes", root=root, n_images=20).captions) == 20
    assert len(load_dataset("shapes", root=root, n_images=30).captions) == 30
    assert not (tmp_path / "w.partial").exists()


def test_a_folder_that_holds_other_things_is_never_replaced(tmp_path):
    """make_shapes_world("data") once deleted a whole data folder, downloads included."""
    data = tmp_path / "data"
    keep = data / "flickr8k" / "downloads" / "Flickr8k_Dataset.zip"
    keep.parent.mkdir(parents=True)
    keep.write_bytes(b"a gigabyte, once")
    with pytest.raises(FileExistsError, match="not empty and holds no shapes world.*data/shapes"):
        make_shapes_world(data, n_images=10)
    assert keep.read_bytes() == b"a gigabyte, once"
    assert make_shapes_world(data / "shapes", n_images=10) == data / "shapes"  # its own folder
    (tmp_path / "empty").mkdir()
    assert make_shapes_world(tmp_path / "empty", n_images=10).is_dir()  # an empty one is fine


def test_captions_name_what_is_in_the_picture(world):
    scenes = load_scenes(world.root)
    for name, captions in world.captions.items():
        scene = scenes[name]
        words = set(" ".join(clean_caption(c) for c in captions).split())
        for thing in scene.things:
            assert {thing.colour, thing.shape} <= words | {thing.shape + "s"}, (name, captions)
        assert scene.background in words
        mentioned_colours = words & set(COLOURS) - {scene.background}
        assert mentioned_colours == {t.colour for t in scene.things}, (name, captions)
        assert words & set(SHAPES) | {w[:-1] for w in words} & set(SHAPES) == {
            t.shape for t in scene.things
        }


def test_relations_match_positions(world):
    scenes = load_scenes(world.root)
    checked = 0
    for name, captions in world.captions.items():
        things = scenes[name].things
        for caption in captions:
            text = clean_caption(caption)
            if (
                len(things) == 2
                and " to the left of " in text
                and text.startswith(f"a {things[0].colour} {things[0].shape}")
            ):
                assert things[0].x < things[1].x
                checked += 1
            if len(things) == 2 and " above " in text:
                assert things[0].y < things[1].y
                checked += 1
    assert checked > 5


def test_image_pixels_show_the_scene(world):
    scenes = load_scenes(world.root)
    for name in list(world.captions)[:10]:
        scene = scenes[name]
        pixels = np.asarray(Image.open(world.image_path(name))).astype(int)
        corner = pixels[:4, :4].reshape(-1, 3).mean(axis=0)
        assert np.abs(corner - BACKGROUNDS[scene.background]).max() < 20 or any(
            t.x < 40 and t.y < 40 for t in scene.things
        )
        for t in scene.things:
            centre = pixels[t.y, t.x]
            assert np.abs(centre - COLOURS[t.colour]).max() < 40, (name, t)


def test_too_small_world_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 10 images"):
        make_shapes_world(tmp_path, n_images=3)


def test_caption_truth_counts_what_a_caption_gets_right(tmp_path):
    scene = Scene("gray", (Thing("circle", "red", "small", 40, 40),
                           Thing("square", "blue", "large", 150, 40)), "row")
    assert caption_truth("a red circle to the left of a blue square", scene) == {
        "colours": "right", "shapes": "right", "background": "none"}
    assert caption_truth("two red circles on gray", scene) == {
        "colours": "right", "shapes": "right", "background": "right"}
    wrong = caption_truth("a green star on a white background", scene)
    assert wrong == {"colours": "wrong", "shapes": "wrong", "background": "wrong"}
    # naming nothing is not being right
    assert caption_truth("two shapes", scene) == dict.fromkeys(TRUTH_KINDS, "none")
    # every true reference caption of a real world is never wrong, and names something
    root = make_shapes_world(tmp_path / "world", n_images=10)
    scenes = load_scenes(root)
    for line in (root / "Flickr8k.token.txt").read_text().splitlines():
        key, caption = line.split("\t")
        verdict = caption_truth(caption, scenes[key.split("#")[0]])
        assert "wrong" not in verdict.values() and set(verdict.values()) != {"none"}, caption


def test_truth_rates_count_named_and_right_apart():
    red = Scene("white", (Thing("circle", "red", "small", 40, 40),), "single")
    blue = Scene("black", (Thing("star", "blue", "large", 100, 100),), "single")
    captions = ["a red circle on white", "a red star", "one shape"]
    rates = truth_rates(captions, [red, blue, red])
    assert rates["colours"] == {"named": 2 / 3, "right": 1 / 3, "right_when_named": 0.5}
    assert rates["shapes"] == {"named": 2 / 3, "right": 2 / 3, "right_when_named": 1.0}
    assert rates["background"]["named"] == 1 / 3 and rates["background"]["right"] == 1 / 3
    nothing = truth_rates(["one shape"], [red])["background"]
    assert nothing["right"] == 0 and math.isnan(nothing["right_when_named"])
    with pytest.raises(ValueError, match="one per scene"):
        truth_rates(captions, [red])
