"""Feature extraction in images per second (issue: features and vocabulary).

Three ways over the same images of the shapes world, same encoder (VGG16 to fc2):

* classic: the loop of the classic tutorials, ``keras.utils.load_img`` one
  image, ``img_to_array``, ``preprocess_input``, ``model.predict`` one image;
* pipeline: ``helpers.images.image_batches`` (parallel decoding, batching,
  prefetch) feeding the encoder;
* encoder alone: the same batches, already decoded and in memory, so only the
  network works. The pipeline should come close to it: decoding must hide
  behind the network.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

TARGET_VS_CLASSIC = 2.5
TARGET_VS_ENCODER = 0.9


def run(n_images: int = 64, batch_size: int = 32, repeats: int = 2) -> dict[str, float]:
    import keras
    import tensorflow as tf

    from helpers.data import load_dataset
    from helpers.encoders import choose_encoder
    from helpers.features import build_encoder
    from helpers.images import image_batches, load_image

    root = Path(tempfile.mkdtemp()) / "shapes"
    dataset = load_dataset("shapes", root=root, n_images=max(n_images, 10))
    paths = [str(dataset.image_path(n)) for n in sorted(dataset.captions)[:n_images]]
    encoder = build_encoder(choose_encoder("vgg16", "none"))
    forward = tf.function(lambda x: encoder(x, training=False), reduce_retracing=True)
    warm = np.zeros((batch_size, 224, 224, 3), np.float32)
    forward(warm)
    forward(warm[: n_images % batch_size or batch_size])
    encoder.predict(warm[:1], verbose=0)
    for images, _ in image_batches(paths[:2], batch_size):  # trace for the pipeline's batch shape
        forward(images)

    def classic_loop():
        for path in paths:
            image = keras.utils.load_img(path, target_size=(224, 224))
            x = keras.applications.vgg16.preprocess_input(keras.utils.img_to_array(image)[None])
            encoder.predict(x, verbose=0)

    def pipeline_run():
        for images, _ in image_batches(paths, batch_size):
            forward(images).numpy()

    decoded = np.stack([load_image(p) for p in paths])

    def encoder_alone():
        for i in range(0, n_images, batch_size):
            forward(tf.constant(decoded[i : i + batch_size])).numpy()

    # Best of `repeats` runs of each, taken in turns, so that a passing slowdown of
    # a shared machine does not decide a ratio.
    best = {"classic": 0.0, "pipeline": 0.0, "encoder alone": 0.0}
    for _ in range(repeats):
        for name, work in (("classic", classic_loop), ("pipeline", pipeline_run),
                           ("encoder alone", encoder_alone)):
            start = time.perf_counter()
            work()
            best[name] = max(best[name], n_images / (time.perf_counter() - start))
    classic, pipeline, alone = best["classic"], best["pipeline"], best["encoder alone"]
    return {"classic": classic, "pipeline": pipeline, "encoder alone": alone}


def report(results: dict[str, float]) -> list[str]:
    vs_classic = results["pipeline"] / results["classic"]
    vs_encoder = results["pipeline"] / results["encoder alone"]
    lines = [f"{k:>14}: {v:6.2f} images/s" for k, v in results.items()]
    lines.append(f"pipeline / classic loop  = {vs_classic:.2f}x (target >= {TARGET_VS_CLASSIC})"
                 f" {'met' if vs_classic >= TARGET_VS_CLASSIC else 'NOT met'}")
    lines.append(f"pipeline / encoder alone = {vs_encoder:.2f}  (target >= {TARGET_VS_ENCODER})"
                 f" {'met' if vs_encoder >= TARGET_VS_ENCODER else 'NOT met'}")
    return lines
