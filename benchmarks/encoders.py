"""The two encoders of the shapes world: pretraining cost and extraction speed (notebook 02).

* ``shapes-vgg``: what pretraining took on this machine, read from its card
  (the pretraining runs once per data folder; a missing one is made now, a few
  minutes), and how fast it extracts features;
* ``vgg16``: VGG16 with random weights (ImageNet's need a download), which costs
  nothing to "pretrain" here but reads images far more slowly.

Both extract through the same ``image_batches`` pipeline over the same images,
taken in turns, best of ``repeats``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path


def run(n_images: int = 128, batch_size: int = 32, repeats: int = 2,
        encoder: str = "shapes-vgg") -> dict:
    import tensorflow as tf

    from helpers.data import load_dataset
    from helpers.encoders import choose_encoder
    from helpers.features import build_encoder
    from helpers.images import image_batches
    from helpers.pretraining import pretrain
    from helpers.settings import get_settings

    data_dir = get_settings(dataset="shapes").data_dir
    card = pretrain(data_dir, encoder)
    dataset = load_dataset("shapes", root=Path(tempfile.mkdtemp()) / "shapes", n_images=n_images)
    paths = [str(dataset.image_path(n)) for n in sorted(dataset.captions)]
    networks = {encoder: build_encoder(choose_encoder(encoder, data_dir=data_dir)),
                "vgg16 (random)": build_encoder(choose_encoder("vgg16", "none"))}
    forwards = {name: tf.function(lambda x, n=net: n(x, training=False), reduce_retracing=True)
                for name, net in networks.items()}
    speed = dict.fromkeys(forwards, 0.0)
    for images, _ in image_batches(paths[:batch_size], batch_size):  # trace outside the timing
        for forward in forwards.values():
            forward(images)
    for _ in range(repeats):
        for name, forward in forwards.items():
            start = time.perf_counter()
            for images, _ in image_batches(paths, batch_size):
                outputs = forward(images)
                (outputs[0] if isinstance(outputs, (list, tuple)) else outputs).numpy()
            speed[name] = max(speed[name], len(paths) / (time.perf_counter() - start))
    return {"card": card, "images per second": speed, "encoder": encoder}


def report(results: dict) -> list[str]:
    card, speed, encoder = results["card"], results["images per second"], results["encoder"]
    seconds = card["seconds"]
    recipe = card["recipe"]
    lines = [f"{encoder} pretraining (made {card['made']}): {seconds['drawing']:.0f} s drawing "
             f"{recipe['patches'] + 1000:,} single objects and "
             f"{recipe['train_images'] + recipe['test_images']:,} scenes + "
             f"{seconds['objects']:.0f} s stage a ({recipe['patch_epochs']} epochs) + "
             f"{seconds['training']:.0f} s stage b ({card['epochs']} epochs) = "
             f"{sum(seconds.values()) / 60:.1f} min (target <= 6 min), "
             "paid once per data folder; vgg16: none (ImageNet weights are a download)",
             "held-out scenes exactly right: "
             + ", ".join(f"{k} {v:.0%}" for k, v in card["held_out"].items())]
    lines += [f"{name:>16}: {value:7.1f} images/s" for name, value in speed.items()]
    ratio = speed[encoder] / speed["vgg16 (random)"]
    lines.append(f"extraction, {encoder} / vgg16 = {ratio:.1f}x")
    return lines
