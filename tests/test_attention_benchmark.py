"""`make bench`'s grid models (benchmarks/attention.py): the transformer is built and reported
next to the attention model, each with its ratios against merge from the same run."""

from __future__ import annotations

from benchmarks import attention
from helpers.models import is_attention_model
from helpers.text import Vocabulary
from helpers.transformer import is_transformer_model


def _result(words_per_second: float, greedy_s: float, beam3_s: float, tokens: float) -> dict:
    return {"words_per_second": words_per_second, "peak_gb": 1.0, "greedy_s": greedy_s,
            "beam3_s": beam3_s, "images": 10, "captions": 50, "tokens_per_caption": tokens,
            "feature_mb": 3.8, "source": "generated text"}


def test_each_kind_gets_its_own_model_on_the_benchmark_grid():
    vocab = Vocabulary([f"w{i}" for i in range(6)], max_length=9)
    transformer = attention._model("transformer", vocab)
    assert is_transformer_model(transformer)
    assert transformer.input_shape[0] == (None, *attention.GRID_SHAPE)
    assert transformer.get_layer("word_positions").max_length == vocab.max_length
    assert is_attention_model(attention._model("attention", vocab))
    assert attention.KINDS == ("merge", "attention", "transformer")


def test_the_report_gives_each_grid_model_against_merge():
    lines = attention.report({"merge": _result(4000, 0.2, 0.5, 8.0),
                              "attention": _result(2000, 1.6, 2.5, 16.0),
                              "transformer": _result(3200, 6.4, 10.0, 16.0)})
    assert "transformer (grid):    3,200 words/s training" in lines[3]
    assert ("transformer / merge: training 1.2x slower, greedy decoding 32.0x slower, "
            "beam 3 20.0x slower") in lines
    assert ("  per generated token (the captions' lengths differ 2.0x after so little "
            "training): greedy 16.0x, beam 3 10.0x") in lines
    assert "attention / merge: training 2.0x slower, greedy decoding 8.0x slower, " \
           "beam 3 5.0x slower" in lines


def test_the_report_leaves_out_a_grid_model_that_was_not_run():
    lines = attention.report({"merge": _result(4000, 0.2, 0.5, 8.0),
                              "attention": _result(2000, 1.6, 2.5, 16.0)})
    assert not any("transformer" in line for line in lines)
