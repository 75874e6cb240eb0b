"""The attention captioner (notebook 08): model, penalty, training, decoding, maps and figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import keras
import numpy as np
import pytest

from helpers.attention_plots import plot_attention, upsample_attention
from helpers.decoding import beam_search, decoder_for, greedy_decode
from helpers.feature_cache import CachedRows
from helpers.models import (
    attention_weights_model,
    build_attention_model,
    build_caption_model,
    coverage_penalty,
    is_attention_model,
)
from helpers.runs import load_trained, read_history, save_trained
from helpers.shapes import IMAGE_SIZE, Scene, Thing
from helpers.shapes_truth import (
    attention_on_named,
    object_mask,
    what_colour_words_look_at,
)
from helpers.text import END, START, Vocabulary
from helpers.training import CaptionData, fit

GRID = (4, 4, 6)  # a tiny grid: 16 positions of 6 channels


def tiny(n_words: int = 6, max_length: int = 7, seed: int = 1, n_images: int = 5):
    vocab = Vocabulary([f"w{i}" for i in range(n_words)], max_length=max_length)
    model = build_attention_model(len(vocab), grid_shape=GRID, units=8, embedding_dim=8,
                                  attention_dim=8, dropout=0.0, seed=seed)
    grids = np.random.default_rng(seed).normal(size=(n_images, *GRID)).astype("float32")
    return model, vocab, grids


def test_weights_sum_to_one_over_the_grid():
    model, _, grids = tiny()
    tokens = np.array([[2, 5, 7, 4, 0, 0]] * len(grids), dtype="int32")
    weights = attention_weights_model(model).predict([grids, tokens], verbose=0)
    assert weights.shape == (len(grids), tokens.shape[1], GRID[0] * GRID[1])
    assert (weights >= 0).all()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, atol=1e-5)
    assert is_attention_model(model) and not is_attention_model(build_caption_model(10))


def test_padding_does_not_change_predictions():
    model, _, grids = tiny()
    short = np.array([[2, 5, 7]], dtype="int32")
    padded = np.array([[2, 5, 7, 0, 0, 0]], dtype="int32")
    np.testing.assert_allclose(model.predict([grids[:1], short], verbose=0)[0],
                               model.predict([grids[:1], padded], verbose=0)[0, :3],
                               rtol=1e-5, atol=1e-6)


def test_the_penalty_grows_as_attention_piles_up_and_ignores_padding():
    """What the penalty is for: zero for a caption that looks everywhere alike, more the more
    its words all look at the same place, and the padding after a caption does not count."""
    positions = 16
    tokens = np.array([[5, 6, 7, 0]], dtype="int32")  # three words, then padding

    def maps(*looks):  # one map per step, each spreading its weight evenly over ``looks``
        out = np.zeros((1, 4, positions), "float32")
        for step, where in enumerate(looks):
            out[0, step, list(where)] = 1 / len(where)
        return out

    def penalty(m):
        return float(np.asarray(coverage_penalty(m, tokens))[0])

    even = np.full((1, 4, positions), 1 / positions, "float32")
    assert penalty(even) == pytest.approx(0.0, abs=1e-6)
    staring = penalty(maps([0], [0], [0], [0]))
    wandering = penalty(maps([0], [1], [2], [0]))
    spread = penalty(maps([0, 1], [2, 3], [4, 5], [0]))
    assert staring > wandering > spread > 0
    assert penalty(maps([0], [0], [0], [9])) == pytest.approx(staring)  # the padding step


def test_penalty_is_added_only_while_training():
    model, vocab, grids = tiny()
    tokens = np.array([[2, 5, 7, 4]] * len(grids), dtype="int32")
    model([grids, tokens], training=True)
    assert len(model.losses) == 1 and float(model.losses[0]) > 0
    quiet = build_attention_model(len(vocab), grid_shape=GRID, units=8, embedding_dim=8,
                                  attention_dim=8, penalty=0.0)
    quiet([grids, tokens], training=True)
    assert not quiet.losses


def _grid_data(tmp_path, vocab, n_images=12, seed=0):
    """Captions whose words depend on the grid, with the grids in a memory-mapped file."""
    rng = np.random.default_rng(seed)
    grids = rng.normal(size=(n_images, *GRID)).astype("float16")
    path = tmp_path / "grid.npy"
    np.save(path, grids)
    on_disk = CachedRows(np.load(path, mmap_mode="r"), np.arange(n_images)[::-1].copy())
    captions = {f"{i}.jpg": [" ".join(f"w{(j + int(grids[on_disk.index[i], 0, 0, 0] > 0)) % 6}"
                                      for j in range(4))] * 2 for i in range(n_images)}
    return CaptionData.from_captions("train", captions, vocab, on_disk), grids


def test_pipeline_streams_the_grid_from_disk(tmp_path):
    model, vocab, _ = tiny()
    data, grids = _grid_data(tmp_path, vocab)
    (batch, tokens), targets = next(iter(data.pipeline(batch_size=4, shuffle=False)))
    expected = grids[data.features.index[data.image_index[:4]]].astype("float32")
    np.testing.assert_array_equal(batch.numpy(), expected)
    assert tokens.shape == targets.shape and int(tokens[0, 0]) == vocab.index[START]


def test_trains_on_streamed_grids_and_the_loss_goes_down(tmp_path):
    model, vocab, _ = tiny()
    data, _ = _grid_data(tmp_path, vocab)
    fit(model, vocab, data, data, tmp_path / "run", epochs=6, batch_size=8, verbose=0)
    history = read_history(tmp_path / "run")
    assert history[-1]["val_loss"] < history[0]["val_loss"]
    assert history[-1]["loss"] < history[0]["loss"]
    loaded, loaded_vocab, _ = load_trained(tmp_path / "run")
    assert is_attention_model(loaded) and loaded_vocab.words == vocab.words


def test_decoding_returns_a_map_per_word_and_matches_the_model(tmp_path):
    model, vocab, grids = tiny()
    decoded = greedy_decode(model, grids, vocab)
    weights_of = attention_weights_model(model)
    for tokens, maps, score, grid in zip(decoded.tokens, decoded.attention, decoded.scores,
                                         grids):
        assert maps.shape == (len(tokens), GRID[0] * GRID[1])
        # the step-by-step decoder computes what the whole-caption model computes
        fed = np.array([[vocab.index[START], *tokens[:-1]]], dtype="int32")
        np.testing.assert_allclose(maps, np.asarray(weights_of([grid[None], fed]))[0],
                                   rtol=1e-4, atol=1e-5)
        probs = np.asarray(model([grid[None], fed], training=False))[0]
        assert np.isclose(score, np.log(probs[np.arange(len(tokens)), tokens]).sum(), atol=1e-3)
    one_beam = beam_search(model, grids, vocab, beam_size=1)
    assert one_beam.captions == decoded.captions
    for a, b in zip(one_beam.attention, decoded.attention):
        np.testing.assert_allclose(a, b, atol=1e-5)
    wide = beam_search(model, grids, vocab, beam_size=3, batch_size=2)
    for tokens, maps in zip(wide.tokens, wide.attention):
        assert maps.shape == (len(tokens), GRID[0] * GRID[1])
        np.testing.assert_allclose(maps.sum(axis=1), 1.0, atol=1e-5)
    assert all(END not in c for c in wide.captions)


def test_merge_models_decode_without_maps_and_the_wrong_model_is_named():
    vocab = Vocabulary([f"w{i}" for i in range(6)], max_length=7)
    merge = build_caption_model(len(vocab), feature_dim=5, units=8, embedding_dim=8)
    assert greedy_decode(merge, np.ones((2, 5), "float32"), vocab).attention is None
    inputs = keras.Input((3,))
    other = keras.Model(inputs, keras.layers.Dense(len(vocab), name="next_word")(inputs))
    with pytest.raises(ValueError, match="build_caption_model"):
        decoder_for(other, vocab)


def test_attention_on_the_named_object():
    circle = Thing("circle", "red", "large", 40, 40)
    star = Thing("star", "blue", "small", 180, 180)
    scene = Scene("white", (circle, star), "row")
    mask = object_mask(circle)
    assert mask.shape == (IMAGE_SIZE, IMAGE_SIZE)
    assert abs(mask.sum() - np.pi * 32**2) < 0.05 * np.pi * 32**2
    side = 14
    on_circle = np.zeros(side * side)
    on_circle[(40 // 16) * side + 40 // 16] = 1.0  # the cell under the circle's centre
    uniform = np.full(side * side, 1 / side**2)
    rows = attention_on_named(["a", "red", "circle", "green", "stars"],
                              np.stack([uniform, on_circle, uniform, on_circle, uniform]), scene)
    assert [r["word"] for r in rows] == ["red", "circle", "stars"]  # "green" names nothing
    red, circle_row, stars = rows
    assert red["on_object"] > 0.9 and red["uniform"] == pytest.approx(mask.mean(), rel=0.05)
    assert circle_row["on_object"] == pytest.approx(circle_row["uniform"], rel=1e-6)
    assert stars["kind"] == "shape" and stars["uniform"] < red["uniform"]
    with pytest.raises(ValueError, match="square grid"):
        attention_on_named(["red"], np.ones((1, 15)) / 15, scene)


def test_what_a_colour_word_looks_at():
    yellow = Thing("diamond", "yellow", "small", 40, 40)
    orange = Thing("circle", "orange", "large", 40, 180)
    scene = Scene("black", (yellow, orange), "column")
    side = 14
    on_yellow, even = np.zeros(side * side), np.full(side * side, 1 / side**2)
    on_yellow[(40 // 16) * side + 40 // 16] = 1.0  # the cell under the diamond's centre
    rows = what_colour_words_look_at(["an", "orange", "diamond", "yellow", "red"],
                                     np.stack([on_yellow, on_yellow, on_yellow,
                                               on_yellow, even]), scene)
    assert [(r["index"], r["word"]) for r in rows] == [(1, "orange"), (3, "yellow"), (4, "red")]
    orange_row, yellow_row, red_row = rows
    cover = object_mask(yellow).mean()
    assert orange_row["thing"] == yellow and orange_row["times"] > 0.9 / cover
    assert orange_row["times_said"] == 0.0  # no weight on the orange circle
    assert yellow_row["thing"] == yellow and yellow_row["times_said"] == yellow_row["times"]
    assert red_row["thing"] is None and red_row["times_said"] == 0.0  # a uniform map, no red
    with pytest.raises(ValueError, match="square grid"):
        what_colour_words_look_at(["red"], np.ones((1, 15)) / 15, scene)


def _inside(inner, outer, slack=1.0):
    return (inner.x0 >= outer.x0 - slack and inner.x1 <= outer.x1 + slack
            and inner.y0 >= outer.y0 - slack and inner.y1 <= outer.y1 + slack)


def test_attention_figure_has_a_colour_scale_and_titles_that_fit(tmp_path):
    words = ["a", "red", "circle", "and", "another", "extraordinarily", "<end>"]
    maps = np.random.default_rng(0).dirichlet(np.ones(16), size=len(words))
    picture = np.full((64, 64, 3), 200, np.uint8)
    caption = " ".join(["a long caption that goes on"] * 6)
    fig = plot_attention(picture, words, maps, ncols=3, title=caption, mark=1,
                         run_dir=tmp_path, name="maps")
    panels = [ax for ax in fig.axes if ax.images]
    assert panels[0].get_title() == "the picture"
    titles = [ax.get_title() for ax in panels[1:]]
    assert titles[:5] == words[:5] and len(titles) == len(words)
    assert panels[2].title.get_color() == "tab:red"  # the marked word, "red"
    bars = [ax for ax in fig.axes if "attention" in ax.get_ylabel()]
    assert len(bars) == 1, "one colour bar says what the colours mean"
    assert "share" in bars[0].get_ylabel()
    low, high = bars[0].get_ylim()
    assert low == 0 and high == pytest.approx(maps.max(), rel=1e-5)
    shown = panels[1].images[-1].get_array()
    assert shown.shape == (64, 64, 4)  # the map as colours, over the picture in grey
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    whole = fig.bbox
    texts = [ax.title for ax in panels] + [fig._suptitle, bars[0].yaxis.label]
    for text in texts:
        assert _inside(text.get_window_extent(renderer), whole), f"{text.get_text()!r} clipped"
    for ax in panels:  # a word's title stays above its own panel
        box, title = ax.get_window_extent(renderer), ax.title.get_window_extent(renderer)
        assert box.x0 - 2 <= title.x0 and title.x1 <= box.x1 + 2, ax.get_title()
    assert (tmp_path / "figures" / "maps.png").stat().st_size > 0
    big = upsample_attention(maps[1], 64)
    assert big.shape == (64, 64) and big.max() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="one each"):
        plot_attention(picture, words[:2], maps)


def test_save_trained_keeps_the_attention_layers(tmp_path):
    model, vocab, grids = tiny()
    save_trained(model, vocab, tmp_path)
    loaded, _, _ = load_trained(tmp_path)
    tokens = np.array([[2, 5, 7]] * len(grids), dtype="int32")
    np.testing.assert_allclose(loaded.predict([grids, tokens], verbose=0),
                               model.predict([grids, tokens], verbose=0), rtol=1e-5, atol=1e-6)
    assert greedy_decode(loaded, grids, vocab).captions == greedy_decode(model, grids,
                                                                         vocab).captions


# --------------------------------------------------------------------------
# The code answers of notebook 08's exercises (solutions/nb08_attention.py)
# --------------------------------------------------------------------------


def test_nb08_entropy_and_ratio_by_word():
    from solutions.nb08_attention import map_entropy, ratio_by

    sharp, even = np.eye(16)[:1], np.full((1, 16), 1 / 16)
    np.testing.assert_allclose(map_entropy(np.vstack([sharp, even])), [0.0, np.log(16)],
                               atol=1e-9)
    looked = [{"word": "red", "on_object": 0.2, "uniform": 0.05},
              {"word": "red", "on_object": 0.1, "uniform": 0.05},
              {"word": "star", "on_object": 0.02, "uniform": 0.02}]
    assert ratio_by(looked) == pytest.approx({"red": 3.0, "star": 1.0})


def test_nb08_the_gated_layer_trains_saves_and_decodes(tmp_path):
    from solutions.nb08_attention import build_gated_model, gate_values

    vocab = Vocabulary([f"w{i}" for i in range(6)], max_length=7)
    model = build_gated_model(len(vocab), GRID, units=8, embedding_dim=8, attention_dim=8,
                              dropout=0.0)
    data, _ = _grid_data(tmp_path, vocab)
    fit(model, vocab, data, data, tmp_path / "gated", epochs=2, batch_size=8, verbose=0)
    loaded, _, _ = load_trained(tmp_path / "gated")
    assert type(loaded.get_layer("attention_lstm")).__name__ == "GatedAttentionLSTM"
    grids = data.features[np.arange(3)]
    decoded = greedy_decode(loaded, grids, vocab)
    for tokens, maps in zip(decoded.tokens, decoded.attention):
        assert maps.shape == (len(tokens), GRID[0] * GRID[1])
        np.testing.assert_allclose(maps.sum(axis=1), 1.0, atol=1e-5)
    gates = gate_values(loaded, vocab, grids[0], [vocab.index[START], *decoded.tokens[0][:-1]])
    assert gates.shape == (len(decoded.tokens[0]),) and ((gates > 0) & (gates < 1)).all()


def test_features_of_the_wrong_kind_are_named(tmp_path):
    model, vocab, grids = tiny()
    with pytest.raises(ValueError, match="conv grid"):
        greedy_decode(model, np.ones((2, 12), "float32"), vocab)
    merge = build_caption_model(len(vocab), feature_dim=12, units=8, embedding_dim=8)
    with pytest.raises(ValueError, match="not the grid"):
        beam_search(merge, grids, vocab)


def test_maps_fit_pictures_of_any_shape():
    weights = np.eye(16)[5]
    wide = upsample_attention(weights, (30, 50))
    assert wide.shape == (30, 50)
    fig = plot_attention(np.zeros((30, 50, 3), np.uint8), ["a"], weights[None])
    assert fig.axes[0].images[0].get_array().shape == (30, 50, 3)
    assert fig.axes[1].images[-1].get_array().shape == (30, 50, 4)


def test_grid_positions_let_the_attention_model_tell_a_mirrored_grid(tmp_path):
    """Without positions a mirrored grid gives the same predictions (notebook 09 checks it);
    with grid_positions=True it does not, and decoding still matches the model."""
    vocab = Vocabulary([f"w{i}" for i in range(6)], max_length=7)
    grids = np.random.default_rng(3).normal(size=(4, *GRID)).astype("float32")
    tokens = np.array([[2, 5, 7, 4]] * 4, dtype="int32")
    mirrored = grids[:, :, ::-1]
    for placed in (False, True):
        model = build_attention_model(len(vocab), grid_shape=GRID, units=8, embedding_dim=8,
                                      attention_dim=8, dropout=0.0, seed=2,
                                      grid_positions=placed)
        change = np.abs(model.predict([grids, tokens], verbose=0)
                        - model.predict([mirrored, tokens], verbose=0)).max()
        assert (change > 1e-6) if placed else (change < 1e-6)
    decoded = greedy_decode(model, grids, vocab)
    for tokens_, score, grid in zip(decoded.tokens, decoded.scores, grids):
        fed = np.array([[vocab.index[START], *tokens_[:-1]]], dtype="int32")
        probs = np.asarray(model([grid[None], fed], training=False))[0]
        assert np.isclose(score, np.log(probs[np.arange(len(tokens_)), tokens_]).sum(), atol=1e-3)
    save_trained(model, vocab, tmp_path / "placed")
    loaded, _, _ = load_trained(tmp_path / "placed")
    np.testing.assert_allclose(loaded.predict([grids, tokens], verbose=0),
                               model.predict([grids, tokens], verbose=0), atol=1e-6)
