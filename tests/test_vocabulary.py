"""The vocabulary of helpers.text: fitting, encoding, decoding, saving."""

from __future__ import annotations

import pytest

from helpers.text import END, START, Vocabulary, VocabularyError

TRAIN = ["A dog runs .", "A dog sits", "a cat runs", "A DOG, a dog!", "zebra"]


def test_fit_counts_training_words_only():
    vocab = Vocabulary.fit(TRAIN, min_count=2)
    assert vocab.words[:4] == ["<pad>", "<unk>", START, END]
    assert vocab.words[4:] == ["a", "dog", "runs"]  # most frequent first
    assert "zebra" not in vocab and "cat" not in vocab
    assert vocab.max_length == 4 + 2  # "a dog a dog" plus start and end


def test_encode_decode_round_trip_and_unknown_words():
    vocab = Vocabulary.fit(TRAIN, min_count=2)
    ids = vocab.encode("A dog runs, a giraffe runs!")
    assert ids[0] == vocab.index[START] and ids[-1] == vocab.index[END]
    assert ids.count(1) == 1  # "giraffe" is unknown
    assert vocab.decode(ids) == "a dog runs a <unk> runs"  # an unknown word stays visible
    assert vocab.decode([vocab.index["dog"], vocab.index[END], vocab.index["a"]]) == "dog"


def test_decode_drops_start_and_padding_and_stops_at_end():
    vocab = Vocabulary.fit(TRAIN, min_count=2)
    ids = [vocab.index[w] for w in (START, "a", "<unk>", "dog", END, "runs")] + [0, 0]
    assert vocab.decode(ids) == "a <unk> dog"
    assert vocab.decode([vocab.index[START], vocab.index["dog"], 0, 0]) == "dog"


def test_padding_uses_zero():
    vocab = Vocabulary.fit(TRAIN, min_count=1)
    padded = vocab.pad([[2, 5, 3], [2, 5, 6, 7, 8, 9, 10, 3]], length=5)
    assert padded == [[2, 5, 3, 0, 0], [2, 5, 6, 7, 8]]


def test_coverage():
    vocab = Vocabulary.fit(TRAIN, min_count=2)
    assert vocab.coverage(["a dog", "a zebra"]) == pytest.approx(0.75)


def test_json_round_trip(tmp_path):
    vocab = Vocabulary.fit(TRAIN, min_count=1)
    path = vocab.save(tmp_path / "run" / "vocab.json")
    again = Vocabulary.load(path)
    assert again.words == vocab.words and again.max_length == vocab.max_length
    assert again.encode("a zebra") == vocab.encode("a zebra")
    assert not list(tmp_path.rglob("*.tmp"))


def test_bad_vocabulary_files_say_what_to_do(tmp_path):
    with pytest.raises(VocabularyError, match="run notebook 03"):
        Vocabulary.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"words": []}')
    with pytest.raises(VocabularyError, match="bad.json is not a vocabulary file"):
        Vocabulary.load(tmp_path / "bad.json")
