"""Image loading, the VGG16 encoder and the resumable feature cache (helpers.features)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from helpers.data import load_dataset
from helpers.encoders import choose_encoder, encoder_spec
from helpers.feature_cache import FeatureCacheError
from helpers.features import (
    EncoderWeightsError,
    build_encoder,
    extract_features,
)
from helpers.images import ImageLoadError, load_image, preprocess, read_rgb
from helpers.sharding import _shard, extract_shard, merge_shards, shard_names
from tests.fixtures import write_jpeg

VGG16 = encoder_spec("vgg16")
FC2_DIM, GRID_LAYER = VGG16.fc2_dim, VGG16.grid
RANDOM = choose_encoder("vgg16", "none")  # a random VGG16: no download


@pytest.mark.parametrize("mode", ["RGB", "L", "RGBA", "CMYK", "P", "LA"])
def test_every_image_mode_becomes_rgb(tmp_path, mode):
    suffix = ".jpg" if mode in ("RGB", "L", "CMYK") else ".png"
    path = write_jpeg(tmp_path / f"x{suffix}", colour=(200, 30, 30), mode=mode, size=(50, 30))
    rgb = read_rgb(path)
    assert rgb.shape == (224, 224, 3) and rgb.dtype == np.uint8
    if mode in ("RGB", "RGBA", "CMYK", "P"):
        assert rgb[112, 112, 0] > 150 and rgb[112, 112, 1] < 80  # still red


def test_transparent_pixels_become_white(tmp_path):
    path = tmp_path / "clear.png"
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(path)
    assert (read_rgb(path) == 255).all()


def test_png_named_jpeg_is_read(tmp_path):
    path = tmp_path / "really_a_png.jpg"
    Image.new("RGB", (20, 20), (0, 0, 255)).save(path, format="PNG")
    assert read_rgb(path)[0, 0, 2] == 255


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\xff\xd8\xff\xe0 truncated"])
def test_unreadable_files_name_themselves(tmp_path, content):
    path = tmp_path / "broken.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageLoadError, match="broken.jpg"):
        read_rgb(path)


def test_preprocessing_matches_keras():
    from keras.applications.vgg16 import preprocess_input

    rgb = np.random.default_rng(0).integers(0, 256, (2, 224, 224, 3)).astype(np.uint8)
    np.testing.assert_allclose(preprocess(rgb), preprocess_input(rgb.astype(np.float32)), atol=1e-4)


def test_bad_weights_setting_is_explained(tmp_path):
    with pytest.raises(EncoderWeightsError, match="neither 'imagenet', 'none' nor a file"):
        build_encoder(choose_encoder("vgg16", str(tmp_path / "nope.h5")))
    (tmp_path / "bad.h5").write_bytes(b"junk")
    with pytest.raises(EncoderWeightsError, match="not a VGG16 weights file"):
        build_encoder(choose_encoder("vgg16", str(tmp_path / "bad.h5")))


def test_imagenet_download_failure_names_offline_choices(monkeypatch, tmp_path):
    from helpers import features

    monkeypatch.setattr(features, "IMAGENET_MIRROR", "http://127.0.0.1:9")  # offline
    monkeypatch.setattr(features, "IMAGENET_CACHE", tmp_path)  # nothing cached: no download
    with pytest.raises(EncoderWeightsError, match="(?s)CAPTION_ENCODER_WEIGHTS=none"):
        build_encoder(choose_encoder("vgg16", "imagenet"))


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    ds = load_dataset("shapes", root=root, n_images=10)
    # a corrupt file among the images: skipped and reported, not a crash
    (ds.image_path(ds.splits["test"][0])).write_bytes(b"this is not a jpeg")
    return ds


@pytest.fixture(scope="module")
def full_cache(small_world, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):
        return extract_features(small_world, run, RANDOM, grid=True, batch_size=4,
                                progress=False)


def test_extraction_shapes_and_failures(full_cache, small_world):
    assert full_cache.complete
    assert full_cache.failed == [small_world.splits["test"][0]]
    names = full_cache.available
    assert len(names) == 9
    fc2 = full_cache.get(names)
    assert fc2.shape == (9, FC2_DIM) and np.isfinite(fc2).all()
    grid = full_cache.get(names[:2], layer=GRID_LAYER)
    assert grid.shape == (2, 14, 14, 512)
    with pytest.raises(KeyError, match="no features"):
        full_cache.get(full_cache.failed)


def test_batched_features_equal_one_image_at_a_time(full_cache, small_world):
    encoder = build_encoder(RANDOM)
    name = full_cache.available[5]
    single = encoder.predict(load_image(small_world.image_path(name))[None], verbose=0)
    np.testing.assert_allclose(full_cache.get([name])[0], single[0], rtol=1e-4, atol=1e-4)


def test_interrupted_extraction_resumes_to_the_same_features(full_cache, small_world, tmp_path):
    partial = extract_features(small_world, tmp_path, RANDOM, grid=True, batch_size=4,
                               progress=False, stop_after_batches=1)
    assert not partial.complete
    with pytest.raises(RuntimeError, match="not complete"):
        partial.get(partial.names[:1])
    with pytest.warns(UserWarning):
        resumed = extract_features(small_world, tmp_path, RANDOM, grid=True,
                                   batch_size=8, progress=False)  # batch size of the first run wins
    assert resumed.complete and resumed.meta["batch_size"] == 4
    names = full_cache.available
    assert np.array_equal(resumed.get(names), full_cache.get(names))
    assert np.array_equal(resumed.get(names, GRID_LAYER), full_cache.get(names, GRID_LAYER))


def test_stale_cache_is_rebuilt(small_world, tmp_path):
    with pytest.warns(UserWarning):
        first = extract_features(small_world, tmp_path, RANDOM, batch_size=8,
                                 progress=False)
    assert first.meta["settings"]["layers"] == ["fc2"]
    with pytest.warns(UserWarning):
        again = extract_features(small_world, tmp_path, RANDOM, grid=True, batch_size=8,
                                 progress=False)
    assert again.meta["settings"]["layers"] == ["fc2", GRID_LAYER]
    assert (tmp_path / "features" / f"{GRID_LAYER}.npy").exists()
    # asking for fc2 alone reuses the cache that also holds the grid
    stamp = (tmp_path / "features" / "fc2.npy").stat().st_mtime_ns
    fc2_only = extract_features(small_world, tmp_path, RANDOM, progress=False)
    assert fc2_only.meta["settings"]["layers"] == ["fc2", GRID_LAYER]
    assert (tmp_path / "features" / "fc2.npy").stat().st_mtime_ns == stamp


def test_cache_of_another_encoder_is_kept_not_overwritten(small_world, tmp_path):
    with pytest.warns(UserWarning):
        extract_features(small_world, tmp_path, RANDOM, batch_size=8, progress=False)
    fc2 = tmp_path / "features" / "fc2.npy"
    stamp, size = fc2.stat().st_mtime_ns, fc2.stat().st_size
    weights_file = tmp_path / "my_vgg16.weights.h5"
    weights_file.write_bytes(b"not used: refused before the encoder is built")
    with pytest.raises(FeatureCacheError, match="another dataset or encoder.*CAPTION_RUN_DIR"):
        extract_features(small_world, tmp_path, choose_encoder("vgg16", str(weights_file)),
                         progress=False)
    assert fc2.stat().st_mtime_ns == stamp and fc2.stat().st_size == size  # still there


def test_a_cache_of_other_images_is_kept_aside_and_taken_back(small_world, tmp_path_factory):
    run = tmp_path_factory.mktemp("run")
    fewer = load_dataset("shapes", root=tmp_path_factory.mktemp("fewer"), n_images=12)
    with pytest.warns(UserWarning):
        extract_features(small_world, run, RANDOM, batch_size=8, progress=False)
    made = (run / "features" / "fc2.npy").stat().st_mtime_ns
    other = extract_features(fewer, run, RANDOM, batch_size=8, progress=False)
    assert len(other.names) == 12
    kept = [p for p in run.iterdir() if p.name.startswith("features-")]
    assert len(kept) == 1 and (kept[0] / "meta.json").exists()  # set aside, not deleted
    back = extract_features(small_world, run, RANDOM, batch_size=8, progress=False)
    assert len(back.names) == 10 and back.complete
    assert (run / "features" / "fc2.npy").stat().st_mtime_ns == made  # taken back, not redone
    assert [p.name for p in run.iterdir() if p.name.startswith("features-")] != [kept[0].name]


def test_normalizer_uses_training_images_only(full_cache, small_world):
    train = [n for n in small_world.splits["train"] if n in full_cache.available]
    mean, std = full_cache.normalizer(train)
    np.testing.assert_allclose(mean, full_cache.get(train).mean(axis=0), rtol=1e-5)
    z = (full_cache.get(train) - mean) / std
    assert abs(z.mean()) < 1e-3




def test_extraction_killed_mid_way_resumes_exactly(full_cache, small_world, tmp_path):
    """A real kill (SIGKILL) during extraction, then a second run finishes the job."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys; from helpers.data import load_dataset; "
        "from helpers.features import extract_features; "
        "from helpers.encoders import choose_encoder; "
        f"ds = load_dataset('shapes', root={str(small_world.root)!r}, n_images=10); "
        f"extract_features(ds, {str(tmp_path)!r}, choose_encoder('vgg16', 'none'), grid=True, "
        "batch_size=4, progress=False)"
    )
    child = subprocess.Popen([sys.executable, "-c", script], env={**os.environ})
    meta = tmp_path / "features" / "meta.json"
    deadline = time.time() + 120
    while time.time() < deadline and child.poll() is None:
        if meta.exists() and json.loads(meta.read_text())["done_batches"]:
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the child finished before it could be killed"
    assert not json.loads(meta.read_text())["complete"]
    with pytest.warns(UserWarning):
        resumed = extract_features(small_world, tmp_path, RANDOM, grid=True,
                                   batch_size=4, progress=False)
    names = full_cache.available
    assert np.array_equal(resumed.get(names), full_cache.get(names))
    assert np.array_equal(resumed.get(names, GRID_LAYER), full_cache.get(names, GRID_LAYER))


def _global_draws() -> tuple:
    return random.random(), float(np.random.rand()), float(tf.random.uniform(()))


def test_a_random_vgg16_is_seeded_without_touching_the_learners_random_state():
    def after(build) -> tuple:
        random.seed(7), np.random.seed(7), tf.random.set_seed(7)
        built = build()
        return built, _global_draws()

    _, untouched = after(lambda: None)
    first, draws = after(lambda: build_encoder(choose_encoder("vgg16", "none", seed=3)))
    assert draws == untouched  # Python's, NumPy's and TensorFlow's sequences go on as before
    kernel = first.get_layer("fc2").get_weights()[0]
    def fc2_kernel(seed: int) -> np.ndarray:
        network = build_encoder(choose_encoder("vgg16", "none", seed=seed))
        return network.get_layer("fc2").get_weights()[0]

    np.testing.assert_array_equal(fc2_kernel(3), kernel)
    assert not np.array_equal(fc2_kernel(4), kernel)


def test_a_long_extraction_says_its_cost_first_and_a_short_one_says_nothing():
    from helpers.costs import LONG_STEP_SECONDS, cost_note, estimate_seconds

    flickr8k_on_a_cpu = cost_note("vgg16 features", 8091, on="cpu")
    assert flickr8k_on_a_cpu is not None
    assert "about 45.0 min on this machine's CPU (estimate" in flickr8k_on_a_cpu
    assert "With a GPU" in flickr8k_on_a_cpu and "resumes" in flickr8k_on_a_cpu
    assert 'DATASET = "shapes"' in flickr8k_on_a_cpu  # the way out, as a notebook user takes it
    assert cost_note("vgg16 features", 8091, on="gpu") is None  # about a minute
    assert cost_note("shapes-vgg features", 1000, on="cpu") is None
    assert estimate_seconds("vgg16 features", 1000, on="cpu") < LONG_STEP_SECONDS
    assert estimate_seconds("no such step", 10, on="cpu") is None


def test_extraction_prints_the_note_before_the_bar(tmp_path, monkeypatch, capsys):
    from helpers import features
    from helpers.shapes import make_shapes_world

    dataset = load_dataset("shapes", root=make_shapes_world(tmp_path / "world", n_images=10))
    monkeypatch.setattr(features, "cost_note", lambda step, n: f"NOTE {step} {n}")
    features.extract_features(dataset, tmp_path / "run", choose_encoder("vgg16", "none"),
                              batch_size=2, progress=True, stop_after_batches=1)
    printed = capsys.readouterr().out
    assert printed.startswith(f"NOTE vgg16 features {len(dataset.captions)}\n")  # then the bar


# Extraction in shards (helpers.sharding): disjoint parts, each resumable, merged into one
# cache equal to an extraction in one go.

def test_shards_are_disjoint_consecutive_and_cover_every_image():
    names = [f"img{i:02d}.jpg" for i in range(11)][::-1]
    parts = [shard_names(names, k, 3) for k in range(3)]
    assert sum(parts, []) == sorted(names) and [len(p) for p in parts] == [3, 4, 4]
    with pytest.raises(ValueError, match="shard 4 of 3 does not exist"):
        shard_names(names, 3, 3)
    assert _shard("2/4") == (1, 4)


def test_merged_shards_equal_one_extraction_and_serve_as_the_run_cache(
        full_cache, small_world, tmp_path):
    options = {"grid": True, "batch_size": 4, "progress": False}
    with pytest.warns(UserWarning, match="skipped 1 unreadable"):  # the corrupt image's shard
        parts = [extract_shard(small_world, tmp_path, RANDOM, k, 2, **options) for k in (1, 0)]
    with pytest.raises(FeatureCacheError, match="not finished"):
        merge_shards(small_world, tmp_path, 3)
    assert sorted(len(p.names) for p in parts) == [5, 5]
    merged = merge_shards(small_world, tmp_path, 2)
    assert merged.complete and merged.folder == tmp_path / "features"
    assert merged.names == full_cache.names and merged.failed == full_cache.failed
    names = full_cache.available
    np.testing.assert_allclose(merged.get(names), full_cache.get(names), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(merged.get(names, GRID_LAYER), full_cache.get(names, GRID_LAYER),
                               rtol=1e-2, atol=1e-2)  # float16 on disk
    before = (tmp_path / "features" / "meta.json").read_text()
    again = extract_features(small_world, tmp_path, RANDOM, **options)  # taken as it is
    assert again.complete and (tmp_path / "features" / "meta.json").read_text() == before
    assert merge_shards(small_world, tmp_path, 2).folder == merged.folder  # merged before
