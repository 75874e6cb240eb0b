"""Image files in, arrays out: reading, VGG16's preprocessing, batches (notebook 02).

Every encoder of the series takes 224x224 RGB pictures preprocessed as VGG16
was trained (BGR minus ImageNet's mean pixel). Reading accepts what a
learner's folder holds: JPEG or PNG, grayscale, palette, CMYK or RGBA; a file
that is not an image raises :class:`ImageLoadError` naming it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_SIZE = 224


# ImageNet's mean pixel in BGR order, as VGG16 was trained ("caffe" preprocessing).
VGG_MEAN_BGR = np.array([103.939, 116.779, 123.68], dtype=np.float32)


class ImageLoadError(ValueError):
    """An image file that cannot be read; the message names the file."""


def read_rgb(path: str | Path, size: int = IMAGE_SIZE) -> np.ndarray:
    """Any image file as a ``size x size x 3`` uint8 RGB array.

    JPEG or PNG whatever the file's suffix says; grayscale, palette, CMYK and
    RGBA images are converted (transparency becomes white). A file that is not
    an image raises :class:`ImageLoadError` naming it.
    """
    try:
        with Image.open(path) as image:
            image = ImageOps.exif_transpose(image)
            if image.mode in ("RGBA", "LA") or "transparency" in image.info:
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, "white")
                image.paste(rgba, mask=rgba.getchannel("A"))
            image = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise ImageLoadError(f"cannot read image {path}: {err}") from None


def preprocess(rgb: np.ndarray) -> np.ndarray:
    """VGG16's own preprocessing: RGB to BGR, minus ImageNet's mean pixel.

    The same as ``keras.applications.vgg16.preprocess_input``, written out so
    you can see it (and so loading images needs no TensorFlow).
    """
    return rgb[..., ::-1].astype(np.float32) - VGG_MEAN_BGR


def load_image(path: str | Path, size: int = IMAGE_SIZE) -> np.ndarray:
    """An image file ready for VGG16: ``size x size x 3`` float32, preprocessed."""
    return preprocess(read_rgb(path, size))


def _load_or_blank(path: bytes) -> tuple[np.ndarray, bool]:
    try:
        return load_image(path.decode()), True
    except ImageLoadError:
        return np.zeros((IMAGE_SIZE, IMAGE_SIZE, 3), np.float32), False


def image_batches(paths: list[str], batch_size: int = 32):
    """A ``tf.data`` pipeline of ``(images, readable)`` batches.

    Decoding and resizing run in parallel threads (``num_parallel_calls``) and
    ``prefetch`` prepares the next batch while VGG16 works on this one, so the
    network, not the disk, sets the pace. Unreadable files come out as blank
    images with ``readable`` False instead of stopping the pipeline.
    """
    import tensorflow as tf

    def load(path):
        image, ok = tf.numpy_function(_load_or_blank, [path], [tf.float32, tf.bool])
        image.set_shape((IMAGE_SIZE, IMAGE_SIZE, 3))
        ok.set_shape(())
        return image, ok

    return (
        tf.data.Dataset.from_tensor_slices(paths)
        .map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .batch(batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
