"""Code a notebook shows and `helpers` also holds cannot drift apart.

Notebook 04 defines the merge model in a visible cell and notebook 06 writes a
plain greedy loop; later notebooks use `helpers`. These tests take the
function from the committed notebook and check it against `helpers`.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import keras
import numpy as np

from helpers import models
from helpers.decoding import greedy_decode
from helpers.models import build_caption_model, count_parameters
from helpers.text import Vocabulary
from helpers.training import masked_loss

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def notebook_function(notebook: str, name: str, namespace: dict | None = None):
    """The function ``name`` as defined in a code cell of ``notebook`` (imports included)."""
    cells = json.loads((NOTEBOOKS / notebook).read_text())["cells"]
    sources = ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]
    source = next((s for s in sources if f"def {name}(" in s), None)
    assert source is not None, f"{notebook} no longer defines {name}()"
    tree = ast.parse(source)
    tree.body = [node for node in tree.body
                 if isinstance(node, ast.Import | ast.ImportFrom | ast.FunctionDef)]
    namespace = {"keras": keras, "np": np, **(namespace or {})}
    exec(compile(tree, f"{notebook}:{name}", "exec"), namespace)
    return namespace[name]


def test_notebook_04_builds_the_same_model_as_helpers():
    build_merge_model = notebook_function("04_model.ipynb", "build_merge_model", {
        "UNITS": models.UNITS, "EMBEDDING_DIM": models.EMBEDDING_DIM, "DROPOUT": models.DROPOUT})
    rng = np.random.default_rng(0)
    stats = (rng.normal(size=4096).astype("float32"), rng.uniform(0.5, 2, 4096).astype("float32"))
    for feature_stats in (stats, None):
        shown = build_merge_model(40, feature_stats=feature_stats, seed=3)
        helper = build_caption_model(40, feature_stats=feature_stats, seed=3)
        assert [(type(a), a.name) for a in shown.layers] == [
            (type(b), b.name) for b in helper.layers]
        assert [tuple(a.output.shape) for a in shown.layers] == [
            tuple(b.output.shape) for b in helper.layers]
        assert count_parameters(shown) == count_parameters(helper)
        for a, b in zip(shown.get_weights(), helper.get_weights()):  # same seed, same start
            np.testing.assert_array_equal(a, b)
        helper.set_weights([w + 0.01 for w in helper.get_weights()])
        shown.set_weights(helper.get_weights())
        features = rng.normal(size=(3, 4096)).astype("float32")
        tokens = np.array([[2, 5, 7, 3, 0], [2, 9, 3, 0, 0], [2, 4, 4, 4, 3]], "int32")
        np.testing.assert_allclose(shown([features, tokens]), helper([features, tokens]),
                                   rtol=1e-5, atol=1e-6)


def test_notebook_06_plain_greedy_loop_gives_the_batched_captions():
    plain_greedy = notebook_function("06_evaluation.ipynb", "plain_greedy")
    vocab = Vocabulary([f"w{i}" for i in range(6)], max_length=7)
    model = build_caption_model(len(vocab), feature_dim=12, units=8, embedding_dim=8,
                                dropout=0.0, seed=1)
    features = np.random.default_rng(1).normal(size=(6, 12)).astype("float32")
    batched = greedy_decode(model, features, vocab).captions
    assert [plain_greedy(model, f, vocab) for f in features] == batched
    assert len(set(batched)) > 1, "the tiny model should caption the images differently"


def test_notebook_05_masked_loss_is_helpers_masked_loss():
    masked_cross_entropy = notebook_function("05_training.ipynb", "masked_cross_entropy")
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(9), size=(4, 6)).astype("float32")
    targets = rng.integers(1, 9, size=(4, 6)).astype("int32")
    targets[:, 4:] = 0  # padding at the end of every caption...
    targets[0, 2:] = 0  # ...and a short one
    np.testing.assert_allclose(float(masked_cross_entropy(targets, probs)),
                               float(masked_loss()(targets, probs)), rtol=1e-5)
    changed = probs.copy()
    changed[targets == 0] = 1 / 9  # what the model says at padded positions is ignored
    np.testing.assert_allclose(float(masked_cross_entropy(targets, changed)),
                               float(masked_cross_entropy(targets, probs)), rtol=1e-6)


def test_notebook_09_decoder_block_is_helpers_decoder_block():
    """The block notebook 09 writes out computes what helpers.transformer.DecoderBlock does,
    padding and the causal mask included."""
    import keras.ops as ops

    from helpers.transformer import DecoderBlock

    decoder_block = notebook_function("09_transformer.ipynb", "decoder_block", {"ops": ops})
    rng = np.random.default_rng(2)
    block = DecoderBlock(dim=8, heads=2, ff_dim=16, dropout=0.0, seed=4)
    words = rng.normal(size=(3, 5, 8)).astype("float32")
    memory = rng.normal(size=(3, 12, 8)).astype("float32")
    tokens = np.array([[2, 5, 6, 7, 3], [2, 5, 3, 0, 0], [2, 6, 6, 3, 0]], dtype="int32")
    theirs, their_weights = block(words, memory, tokens)
    ours, our_weights = decoder_block(block, words, memory, tokens)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    np.testing.assert_allclose(our_weights, their_weights, atol=1e-6)
    later = words.copy()
    later[:, -1] += 1.0  # the last word changes: the words before it must not
    changed, _ = decoder_block(block, later, memory, tokens)
    np.testing.assert_allclose(np.asarray(changed)[:, :-1], np.asarray(ours)[:, :-1], atol=1e-5)
