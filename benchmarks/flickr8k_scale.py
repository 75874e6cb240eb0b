"""Captions and features at Flickr8k scale, for the training and decoding benchmarks.

The captions are the real Flickr8k training captions when the reference text
files are beside the repository (``../shared/reference/flickr8k_text``), else
generated text of the same size: 6,000 images, five captions each, a Zipf-like
word distribution and the real length distribution's mean. The images' features
are random: speed and memory do not depend on what the numbers are.
"""

from __future__ import annotations

import numpy as np

from helpers.runtime import repo_root
from helpers.text import Vocabulary
from helpers.training import CaptionData

REFERENCE = repo_root().parent / "shared" / "reference" / "flickr8k_text"
N_TRAIN, N_TEST, PER_IMAGE = 6000, 1000, 5


def _real_captions() -> dict[str, list[str]] | None:
    from helpers.dataset import LoadReport
    from helpers.layouts import read_split_file, read_token_file

    token_file = REFERENCE / "Flickr8k.token.txt"
    if not token_file.is_file():
        return None
    train = set(read_split_file(REFERENCE / "Flickr_8k.trainImages.txt"))
    captions: dict[str, list[str]] = {}
    for name, caption in read_token_file(token_file, LoadReport()):
        if name in train:
            captions.setdefault(name, []).append(caption)
    return captions


def _generated_captions(seed: int = 0) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(8000)]
    p = 1.0 / np.arange(1, len(words) + 1) ** 1.1
    p /= p.sum()
    captions = {}
    for i in range(N_TRAIN):
        lengths = np.clip(rng.poisson(10.8, PER_IMAGE), 1, 36)
        captions[f"img{i}.jpg"] = [" ".join(rng.choice(words, n, p=p)) for n in lengths]
    return captions


def training_data(seed: int = 0) -> tuple[CaptionData, Vocabulary, str]:
    """The training split at Flickr8k scale, its vocabulary (min count 5) and where the text came
    from."""
    captions = _real_captions()
    source = f"real Flickr8k captions ({REFERENCE})"
    if captions is None:
        captions, source = _generated_captions(seed), "generated text of Flickr8k's size"
    captions = {name: captions[name] for name in sorted(captions)}
    vocab = Vocabulary.fit([c for cs in captions.values() for c in cs])
    features = np.random.default_rng(seed).normal(size=(len(captions), 4096)).astype(np.float32)
    return CaptionData.from_captions("train", captions, vocab, features), vocab, source
