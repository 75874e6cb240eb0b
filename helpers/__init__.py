"""Shared code of the image-captioning series, one module per stage.

The modules follow the data through the series. Each imports only modules
listed above it, never one below, so there is no circle and inference
(:mod:`helpers.caption`) needs no training code:

Settings and the machine
  * :mod:`helpers.runtime`   - paths, Colab, native logs, atomic writes (notebook 00)
  * :mod:`helpers.answers`   - a function a notebook writes out, used from Python: the tests
    that tie notebooks to helpers, the course's student bundle (notebooks 04-09)
  * :mod:`helpers.encoders`  - the registry of encoders: family, layers, pretraining recipe
    (notebook 02; data only, no TensorFlow)
  * :mod:`helpers.distribute` - several devices (``tf.distribute``) and mixed precision, one
    setting each (docs/scaling.md)
  * :mod:`helpers.settings`  - the settings of a run, read in one place (notebook 01)
  * :mod:`helpers.config`    - the learner's settings file, ``python -m helpers.config`` (nb 00)
  * :mod:`helpers.costs`     - what a long step costs, said before it starts (notebooks 02-09)
  * :mod:`helpers.drive`     - Colab: the costly files kept on Google Drive, work on local disk

Data (notebook 01)
  * :mod:`helpers.dataset`   - what a loaded dataset is: captions, splits, a report
  * :mod:`helpers.layouts`   - reading the official, Kaggle and Karpathy layouts
  * :mod:`helpers.download`  - downloading Flickr8k, checked before it is unpacked
  * :mod:`helpers.sources`   - Flickr30k and COCO: their archives, terms, and getting them
  * :mod:`helpers.shapes`    - the synthetic shapes world
  * :mod:`helpers.data`      - ``load_dataset``: any dataset, any layout; ``python -m helpers.data``
  * :mod:`helpers.shapes_truth` - is a caption true of its picture? (notebooks 06-08)
  * :mod:`helpers.caption_checks` - order and colour with shape, as a reader checks (nb 06-08)

Images and features (notebook 02)
  * :mod:`helpers.images`    - image files in, preprocessed arrays out
  * :mod:`helpers.shapes_scenes` - labelled scenes for pretraining ``shapes-vgg``, the probe
  * :mod:`helpers.shapes_vgg` - ``shapes-vgg``: the network and loading its pretrained weights
  * :mod:`helpers.pretraining` - pretraining ``shapes-vgg`` on the labelled scenes
  * :mod:`helpers.feature_cache` - the feature cache on disk: memory-mapped, resumable
  * :mod:`helpers.features`  - building an encoder, extracting its features into the cache
  * :mod:`helpers.sharding`  - extraction in shards, across processes or machines, merged
    into one cache (docs/scaling.md)

Text and models
  * :mod:`helpers.text`      - caption cleaning, word counts, the vocabulary (notebooks 01, 03)
  * :mod:`helpers.models`    - the merge captioner (notebook 04), the attention one (notebook 08)
  * :mod:`helpers.transformer` - the transformer captioner: 2-D positions, cross-attention (nb 09)
  * :mod:`helpers.runs`      - a run folder, one per dataset and encoder, self-contained:
    saving and loading models, what made them, the encoder they need
  * :mod:`helpers.training`  - whole-caption training, checkpoints, resuming (notebook 05)
  * :mod:`helpers.multiscale` - ``fc2`` plus the grid pooled by quarters, for merge (nb 09)
  * :mod:`helpers.step_decoders` - a trained captioner one word at a time, for each model kind
  * :mod:`helpers.decoding`  - batched greedy decoding and beam search (notebooks 06, 08, 09)
  * :mod:`helpers.classic`   - the classic tutorials' way, for comparison (notebooks 04-06)

Scores and pictures
  * :mod:`helpers.metrics`   - BLEU and the COCO caption metrics, ``metrics.json`` (notebook 06)
  * :mod:`helpers.plots`     - figures for any stage (notebooks 01-08)
  * :mod:`helpers.attention_plots` - attention maps on the picture, word by word (nb 08)

On top
  * :mod:`helpers.pipeline`  - what a notebook needs from the ones before it, rebuilt if missing
  * :mod:`helpers.caption`   - caption your own images, ``python -m helpers.caption`` (notebook 07)
  * :mod:`helpers.check`     - is this machine ready? ``python -m helpers.check`` (notebook 00)
"""
