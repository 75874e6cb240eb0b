"""Shared code of the image-captioning series, one module per stage.

The modules follow the data through the series, each using only those before it:

* :mod:`helpers.config`  - settings and paths (notebook 01)
* :mod:`helpers.check`   - is this machine ready? ``python -m helpers.check`` (notebook 00)
* :mod:`helpers.data`    - loading Flickr8k, Kaggle and Karpathy layouts (notebook 01)
* :mod:`helpers.shapes`  - the synthetic shapes world (notebook 01)
* :mod:`helpers.features` - VGG16 features and their cache (notebook 02)
* :mod:`helpers.shapes_vgg` - ``shapes-vgg``, the encoder pretrained offline (notebook 02)
* :mod:`helpers.text`    - caption cleaning, word counts, the vocabulary (notebooks 01 and 03)
* :mod:`helpers.models`  - the merge captioner and its classic one-prefix view (notebook 04),
  the attention captioner (notebook 08)
* :mod:`helpers.training` - whole-caption training, checkpoints, resuming (notebook 05)
* :mod:`helpers.decoding` - batched greedy decoding and beam search (notebook 06), with
  attention maps (notebook 08)
* :mod:`helpers.metrics` - BLEU and the COCO caption metrics, ``metrics.json`` (notebook 06)
* :mod:`helpers.caption` - caption your own images, ``python -m helpers.caption`` (notebook 07)
* :mod:`helpers.plots`   - figures for any stage, captions on pictures (notebook 07), attention
  maps (notebook 08)
"""
