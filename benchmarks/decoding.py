"""Decoding the 1,000-image test split at Flickr8k scale: batched greedy, beam 3, classic loop.

The model is the merge model with a Flickr8k-size vocabulary, trained for a
few hundred steps on the benchmark captions so that its captions end at about
the length of real ones (an untrained model would run every caption to the
maximum length). The classic loop (one ``predict`` per word per image, the
whole padded prefix each time) is timed on a sample of the images and scaled
to 1,000; on that sample it must give exactly the greedy captions.
"""

from __future__ import annotations

import time

import numpy as np

TARGET_GREEDY_SPEEDUP = 100.0
TARGET_BEAM3_RATIO = 3.0


def time_decoding(model, features, vocab):
    """Batched greedy and beam-3 decoding of ``features``, each traced once first.

    Returns the greedy captions and the two times in seconds.
    """
    from helpers.decoding import beam_search, greedy_decode

    greedy_decode(model, features[:8], vocab)  # trace the step functions once
    beam_search(model, features[:8], vocab, beam_size=3)
    start = time.perf_counter()
    greedy = greedy_decode(model, features, vocab)
    greedy_s = time.perf_counter() - start
    start = time.perf_counter()
    beam_search(model, features, vocab, beam_size=3)
    return greedy, greedy_s, time.perf_counter() - start


def run(n_images: int = 1000, n_classic: int = 10, train_steps: int = 300) -> dict[str, float]:
    import keras

    from benchmarks.flickr8k_scale import training_data
    from helpers.classic import classic_greedy_decode
    from helpers.models import build_caption_model
    from helpers.training import masked_loss

    data, vocab, _ = training_data()
    model = build_caption_model(len(vocab))
    model.compile(optimizer=keras.optimizers.Adam(), loss=masked_loss())
    model.fit(data.pipeline(32).take(train_steps), shuffle=False, verbose=0)
    features = np.random.default_rng(1).normal(size=(n_images, 4096)).astype(np.float32)

    greedy, greedy_s, beam_s = time_decoding(model, features, vocab)
    classic_decode = classic_greedy_decode  # warm up Keras' predict once
    classic_decode(model, features[:1], vocab)
    start = time.perf_counter()
    classic = classic_decode(model, features[:n_classic], vocab)
    classic_s = (time.perf_counter() - start) / n_classic * n_images
    if classic != greedy.captions[:n_classic]:
        raise AssertionError("the classic loop and batched greedy decoding disagree")
    words = np.mean([len(t) for t in greedy.tokens])
    return {"images": n_images, "greedy_s": greedy_s, "beam3_s": beam_s, "classic_s": classic_s,
            "n_classic": n_classic, "tokens_per_caption": float(words)}


def report(r: dict[str, float]) -> list[str]:
    speedup = r["classic_s"] / r["greedy_s"]
    ratio = r["beam3_s"] / r["greedy_s"]
    return [
        f"{r['images']:,} images, {r['tokens_per_caption']:.1f} tokens per greedy caption",
        f"        classic loop: {r['classic_s']:8.1f} s  (measured on {r['n_classic']} images, "
        f"scaled to {r['images']:,})",
        f"      batched greedy: {r['greedy_s']:8.2f} s",
        f"  batched beam (k=3): {r['beam3_s']:8.2f} s",
        f"greedy / classic = {speedup:.0f}x faster (target >= {TARGET_GREEDY_SPEEDUP:g}x) "
        f"{'met' if speedup >= TARGET_GREEDY_SPEEDUP else 'NOT met'}",
        f"beam 3 / greedy time = {ratio:.2f} (target <= {TARGET_BEAM3_RATIO:g}) "
        f"{'met' if ratio <= TARGET_BEAM3_RATIO else 'NOT met'}",
    ]
