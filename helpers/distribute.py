"""Several devices and mixed precision, on TensorFlow's own engine (docs/scaling.md).

The series trains on one device. Beyond Flickr8k (Flickr30k, COCO) a learner
moves to a machine with several GPUs or to a Colab TPU; ``tf.distribute`` does
the work there, and this module only chooses and configures it:

* :func:`make_strategy`: the ``CAPTION_STRATEGY`` setting as a
  ``tf.distribute.Strategy``: ``none`` (TensorFlow's default, one device),
  ``mirrored`` (``MirroredStrategy``: every GPU of one machine, or the logical
  CPUs the tests make), ``tpu`` (``TPUStrategy``, a Colab TPU) or
  ``multiworker`` (``MultiWorkerMirroredStrategy``, several machines, each
  told its part by ``TF_CONFIG``). Only ``none`` and ``mirrored`` are tested.
* :func:`training_scope`: build a model inside it, and Keras remembers the
  strategy: :func:`helpers.training.fit` then compiles and trains the model
  on every replica, each taking ``batch_size`` captions of a global batch of
  ``batch_size x replicas``.
* :func:`scaled_learning_rate`: the rule for that bigger batch, stated once.
* :func:`precision_policy`: the ``CAPTION_PRECISION`` switch. ``mixed``
  computes in 16 bits (``mixed_float16`` on a GPU, ``mixed_bfloat16`` on a TPU
  or a CPU with bfloat16 instructions) while the weights, the output softmax
  and the loss stay in float32.

TensorFlow is imported inside the functions: choosing a setting needs none.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STRATEGIES = ("none", "mirrored", "tpu", "multiworker")
"""The values of the ``CAPTION_STRATEGY`` setting."""

PRECISIONS = ("float32", "mixed")
"""The values of the ``CAPTION_PRECISION`` setting."""

BASE_LEARNING_RATE = 1e-3
"""Adam's learning rate for one replica's batch (Keras' default, the series' own)."""


def _one_of(name: str, choices: tuple[str, ...], setting: str) -> str:
    """``name`` in lower case when it is one of ``choices``, else a ``ValueError`` listing them."""
    value = str(name).strip().lower()
    if value not in choices:
        raise ValueError(f"CAPTION_{setting.upper()}={name!r} is not a {setting}; choose one of "
                         f"{', '.join(choices)} (docs/scaling.md)")
    return value


def check_strategy(name: str) -> str:
    """``name`` as a strategy of :data:`STRATEGIES`, or a ``ValueError`` that lists them."""
    return _one_of(name, STRATEGIES, "strategy")


def check_precision(name: str) -> str:
    """``name`` as a precision of :data:`PRECISIONS`, or a ``ValueError`` that lists them."""
    return _one_of(name, PRECISIONS, "precision")


def make_strategy(name: str = "none"):
    """The ``tf.distribute.Strategy`` a setting names, made once per process.

    ``mirrored`` copies the model onto every GPU (or every logical CPU device),
    splits each batch between them and adds up their gradients. ``tpu`` first
    connects to the TPU (on Colab: Runtime > Change runtime type > TPU), and
    ``multiworker`` reads ``TF_CONFIG``: both must be made before any other
    TensorFlow work in the process, and neither is tested here.
    """
    import tensorflow as tf

    name = check_strategy(name)
    if name == "none":  # the default: one device, nothing distributed
        return tf.distribute.get_strategy()
    return _made_once(name)


@functools.cache
def _made_once(name: str):
    """A distributed strategy, made once per process (a TPU is connected once)."""
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "tpu":
        try:
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        except ValueError:  # a TPU VM (Colab's TPU runtime) names its own TPU "local"
            resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    return tf.distribute.MultiWorkerMirroredStrategy()


def extraction_strategy(settings):
    """The strategy feature extraction splits its batches with: the run's ``CAPTION_STRATEGY``
    (``None`` for ``none``: one device, as the series extracts)."""
    return None if settings.strategy == "none" else make_strategy(settings.strategy)


def replicas(strategy=None) -> int:
    """How many copies of the model a strategy trains at once (1 without one)."""
    return 1 if strategy is None else int(strategy.num_replicas_in_sync)


def scaled_learning_rate(n_replicas: int, base: float = BASE_LEARNING_RATE) -> float:
    """The learning rate for a global batch ``n_replicas`` times one replica's: ``base x n``.

    This is the linear scaling rule (published: Goyal et al. 2017, "Accurate,
    Large Minibatch SGD"): a batch k times bigger averages k times as many
    gradients, so its step may be k times longer. It was stated for SGD; for
    Adam it is a starting point, not a law: above 8 replicas or so, warm the
    rate up over the first epoch or scale by the square root instead
    (docs/scaling.md). One replica keeps the series' rate exactly.
    """
    if n_replicas < 1:
        raise ValueError(f"n_replicas={n_replicas}: a strategy has at least one replica")
    return base * n_replicas


NO_BFLOAT16_ISAS = ("SSE41", "AVX", "AVX2", "AVX2_VNNI", "AVX512_CORE", "AVX512_CORE_VNNI")
"""``ONEDNN_MAX_CPU_ISA`` values that keep oneDNN (TensorFlow's CPU kernels) below bfloat16."""


def cpu_has_bfloat16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether TensorFlow can compute in bfloat16 on this CPU (Linux only): the CPU has
    AVX512-BF16 or AMX, and ``ONEDNN_MAX_CPU_ISA`` does not hide them.

    Without them TensorFlow's oneDNN kernels cannot run bfloat16 at all (they
    stop the process), so ``mixed`` precision is for CPUs that have them.
    """
    if os.environ.get("ONEDNN_MAX_CPU_ISA", "").strip().upper() in NO_BFLOAT16_ISAS:
        return False
    try:
        flags = Path(cpuinfo).read_text()
    except OSError:
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def device_kind() -> str:
    """``"tpu"``, ``"gpu"`` or ``"cpu"``: the fastest kind of device TensorFlow sees."""
    import tensorflow as tf

    kinds = {device.device_type for device in tf.config.list_logical_devices()}
    return "tpu" if "TPU" in kinds else "gpu" if "GPU" in kinds else "cpu"


def precision_policy(precision: str = "float32", kind: str | None = None) -> str:
    """The Keras dtype policy of a ``CAPTION_PRECISION``: ``"float32"`` or a mixed one.

    ``mixed`` means ``mixed_float16`` on a GPU (its tensor cores; Keras scales
    the loss so small float16 gradients do not vanish), ``mixed_bfloat16`` on a
    TPU or a CPU with bfloat16 instructions (the range of float32, no loss
    scaling needed). Asked of a CPU without them it says why it cannot.
    """
    if check_precision(precision) == "float32":
        return "float32"
    kind = kind or device_kind()
    if kind == "gpu":
        return "mixed_float16"
    if kind == "tpu" or cpu_has_bfloat16():
        return "mixed_bfloat16"
    raise ValueError("CAPTION_PRECISION=mixed: this machine has no GPU, no TPU and a CPU "
                     "without bfloat16 instructions (AVX512-BF16 or AMX; or ONEDNN_MAX_CPU_ISA "
                     "hides them), on which TensorFlow cannot compute in 16 bits. Keep "
                     "CAPTION_PRECISION=float32 here.")


@contextmanager
def training_scope(strategy: str = "none", precision: str = "float32") -> Iterator:
    """Build a model inside: its weights are placed by ``strategy``, its layers compute in
    ``precision`` (:func:`precision_policy`). Yields the ``tf.distribute.Strategy``.

    >>> with training_scope("mirrored", "mixed") as strategy:   # doctest: +SKIP
    ...     model = build_caption_model(len(vocab), seed=settings.seed)
    >>> fit(model, vocab, train, val, run_dir)   # trains on every replica  # doctest: +SKIP

    Keras remembers the strategy in the model; the precision is put back as it
    was on leaving, so models built afterwards are float32 again.
    """
    import keras

    chosen = make_strategy(strategy)
    before = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision_policy(precision))
    try:
        with chosen.scope():
            yield chosen
    finally:
        keras.config.set_dtype_policy(before)


def logical_cpus(count: int) -> None:
    """Split the CPU into ``count`` logical devices, so ``mirrored`` has replicas to mirror.

    This is how the tests and ``make bench`` run ``MirroredStrategy`` without
    GPUs. It must come before TensorFlow's first operation in the process.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(
        cpu, [tf.config.LogicalDeviceConfiguration() for _ in range(count)])


def replicated(step, strategy=None):
    """``step`` (a batch in, a tensor or a list of tensors out) run on every replica of
    ``strategy``, each on its own consecutive slice of the batch, the outputs gathered back
    in the batch's order (feature extraction on several devices, :mod:`helpers.features`).

    Without a strategy, or with one replica, it is ``step`` itself.
    """
    if strategy is None or replicas(strategy) == 1:
        return step

    def run(batch):
        n = replicas(strategy)
        size = -(-int(batch.shape[0]) // n)  # the last replica may get fewer, or none

        def my_slice(context):
            first = context.replica_id_in_sync_group * size
            return batch[first:first + size]

        outputs = strategy.run(step, args=(strategy.experimental_distribute_values_from_function(
            my_slice),))
        if isinstance(outputs, (list, tuple)):
            return [strategy.gather(out, axis=0) for out in outputs]
        return strategy.gather(outputs, axis=0)

    return run
