"""BLEU and the COCO metrics of helpers.metrics, against hand-computed values and nltk."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor

import pytest

from helpers import metrics
from helpers.metrics import bleu, coco_metrics, evaluate, load_metrics, save_metrics, tokens


def test_bleu_by_hand():
    # hypothesis and reference both 6 words: no brevity penalty.
    # unigrams: 5 of 6 match; bigrams: "the cat", "on the", "the mat" = 3 of 5.
    scores = bleu([["The cat is on the mat."]], ["the cat sat on the mat"])
    assert scores["BLEU-1"] == pytest.approx(5 / 6)
    assert scores["BLEU-2"] == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    # trigrams: "on the mat" = 1 of 4
    assert scores["BLEU-3"] == pytest.approx((5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3))


def test_brevity_penalty():
    scores = bleu([["a big brown dog runs"]], ["a big brown"])
    assert scores["BLEU-1"] == pytest.approx(math.exp(1 - 5 / 3))


def test_nltk_docstring_example():
    # nltk.translate.bleu_score.corpus_bleu's own example gives 0.5920778868801042.
    hyp1 = ("It is a guide to action which ensures that the military always obeys "
            "the commands of the party")
    ref1 = ["It is a guide to action that ensures that the military will forever heed "
            "Party commands",
            "It is the guiding principle which guarantees the military forces always being "
            "under the command of the Party",
            "It is the practical guide for the army always to heed the directions of the party"]
    hyp2 = "he read the book because he was interested in world history"
    ref2 = ["he was interested in world history because he read the book"]
    assert bleu([ref1, ref2], [hyp1, hyp2])["BLEU-4"] == pytest.approx(0.5920778868801042)


def test_special_tokens_and_case_are_not_counted():
    refs = [["A dog runs.", "a dog is running"]]
    plain = bleu(refs, ["a dog runs"])
    assert bleu(refs, ["<start> A dog runs <end>"]) == plain
    assert tokens("<start> A Dog, runs! <end>") == ["a", "dog", "runs"]


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="2 generated captions for 1 images"):
        bleu([["a dog"]], ["a dog", "a cat"])
    with pytest.raises(ValueError, match="split is empty"):
        bleu([], [])


def test_coco_metrics_without_java():
    refs = [["a dog runs on grass", "a brown dog running"], ["two cats sleep"]]
    scores = coco_metrics(refs, ["a dog runs", "two cats sleep"], meteor=False)
    assert set(scores) == {"COCO BLEU-1", "COCO BLEU-2", "COCO BLEU-3", "COCO BLEU-4",
                           "ROUGE-L", "CIDEr"}
    assert 0 < scores["COCO BLEU-1"] <= 1 and scores["CIDEr"] > 0
    perfect = coco_metrics(refs, ["a dog runs on grass", "two cats sleep"], meteor=False)
    assert perfect["ROUGE-L"] > scores["ROUGE-L"]
    both = evaluate(refs, ["a dog runs", "two cats sleep"], meteor=False)
    assert both == {**bleu(refs, ["a dog runs", "two cats sleep"]), **scores}


def test_metrics_json_keeps_each_method(tmp_path):
    save_metrics(tmp_path, "greedy", {"BLEU-1": 0.5}, split="test")
    save_metrics(tmp_path, "beam3", {"BLEU-1": 0.6}, split="test")
    save_metrics(tmp_path, "greedy", {"BLEU-1": 0.55}, split="test")
    assert load_metrics(tmp_path) == {"greedy": {"BLEU-1": 0.55}, "beam3": {"BLEU-1": 0.6}}
    assert load_metrics(tmp_path, with_info=True)["beam3"] == {"scores": {"BLEU-1": 0.6},
                                                               "split": "test"}
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved["methods"]["beam3"]["split"] == "test"
    with pytest.raises(FileNotFoundError, match="notebook 06"):
        load_metrics(tmp_path / "nowhere")


def test_concurrent_writers_lose_no_method(tmp_path):
    """Two notebooks saving into one run folder at once (bug 9): every method is kept."""
    methods = [f"method{i}" for i in range(200)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda m: save_metrics(tmp_path, m, {"BLEU-1": 0.5}), methods))
    assert set(load_metrics(tmp_path)) == set(methods)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["metrics.json"]  # no lock, no tmp


def test_a_lock_left_behind_is_named_after_the_timeout(tmp_path, monkeypatch):
    (tmp_path / "metrics.json.lock").write_text("12345\n")
    monkeypatch.setattr(metrics, "LOCK_TIMEOUT", 0.05)
    with pytest.raises(TimeoutError, match=r"metrics.json.lock.*delete"):
        metrics.save_metrics(tmp_path, "greedy", {"BLEU-1": 0.5})


def test_a_wide_table_is_split_to_fit_a_notebook():
    from helpers.metrics import format_table

    rows = {"greedy": {f"BLEU-{i}": 0.5 for i in range(1, 12)},
            "beam 3": {f"BLEU-{i}": 0.25 for i in range(1, 12)}}
    table = format_table(rows, title="this run: shapes world, test split", width=100)
    assert max(len(line) for line in table.splitlines()) <= 100
    blocks = table.split("\n\n")
    assert len(blocks) == 2  # 11 columns do not fit in 100 characters
    header = " ".join(block.splitlines()[0] for block in blocks).split()
    assert [c for c in header if c.startswith("BLEU")] == [f"BLEU-{i}" for i in range(1, 12)]
    assert all(block.splitlines()[1].startswith("greedy") for block in blocks)
    assert format_table(rows, width=1000).count("\n") == 2  # one table when it fits
