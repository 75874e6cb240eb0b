"""Scoring generated captions: BLEU and the COCO caption metrics (notebook 06).

BLEU counts how many of a caption's n-grams (runs of 1, 2, 3, 4 words) occur
in the human captions of the same image, over the whole test set at once
(*corpus* BLEU), and punishes captions shorter than the references. BLEU-n is
the **cumulative** score: the geometric mean of the 1- to n-gram precisions,
weights ``(1/n, ..., 1/n)``.

Two mistakes of the classic tutorials inflate the numbers, and both are
avoided here (notebook 06 shows their effect):

* leaving ``startseq``/``endseq`` (or ``<start>``/``<end>``) in the captions:
  every caption then "matches" two free words and their n-grams;
* passing the wrong weights, for example ``(0, 1, 0, 0)`` (only bigrams) and
  calling it BLEU-2.

References are cleaned exactly like the training text, so "A dog." and
"a dog" are the same words.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import time
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from nltk.translate.bleu_score import corpus_bleu
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider
from pycocoevalcap.meteor.meteor import Meteor
from pycocoevalcap.rouge.rouge import Rouge

from helpers.runtime import write_atomically
from helpers.text import SPECIAL, clean_caption

BLEU_WEIGHTS = {
    "BLEU-1": (1.0,),
    "BLEU-2": (1 / 2, 1 / 2),
    "BLEU-3": (1 / 3, 1 / 3, 1 / 3),
    "BLEU-4": (1 / 4, 1 / 4, 1 / 4, 1 / 4),
}
METRICS_FILE = "metrics.json"


def tokens(text: str) -> list[str]:
    """A caption as the words BLEU compares: special tokens out, then cleaned like training text."""
    words = [w for w in text.split() if w not in SPECIAL]
    return clean_caption(" ".join(words)).split()


def _check(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> None:
    if len(references) != len(hypotheses):
        raise ValueError(f"{len(hypotheses)} generated captions for {len(references)} images: "
                         "give one caption per image, in the order of the references")
    if not hypotheses:
        raise ValueError("no captions to score: the split is empty")


def bleu(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU-1 to BLEU-4 (nltk) of one generated caption per image against its references."""
    _check(references, hypotheses)
    refs = [[tokens(r) for r in rs] for rs in references]
    hyps = [tokens(h) for h in hypotheses]
    with warnings.catch_warnings():  # no matching 4-gram at all gives 0, as it should: no warning
        warnings.filterwarnings("ignore", r"\s*The hypothesis contains 0 counts", UserWarning)
        return {name: float(corpus_bleu(refs, hyps, weights=w))
                for name, w in BLEU_WEIGHTS.items()}


def java_available() -> bool:
    """METEOR is a Java program; it is computed only where ``java`` is on the PATH."""
    return shutil.which("java") is not None


def _coco_inputs(references: Sequence[Sequence[str]], hypotheses: Sequence[str]):
    """References and captions as ``pycocoevalcap`` scorers take them: cleaned words by image."""
    _check(references, hypotheses)
    gts = {i: [" ".join(tokens(r)) for r in rs] for i, rs in enumerate(references)}
    res = {i: [" ".join(tokens(h)) or "<empty>"] for i, h in enumerate(hypotheses)}
    return gts, res


def coco_metrics(references: Sequence[Sequence[str]], hypotheses: Sequence[str],
                 meteor: bool | None = None) -> dict[str, float]:
    """BLEU-1..4, ROUGE-L, CIDEr (and METEOR where Java is present) as the COCO evaluation does.

    The text is tokenised here (``pycocoevalcap``'s own tokeniser needs Java).
    Names carry a ``COCO`` prefix where they clash with nltk's BLEU, which
    differs slightly in how it computes the brevity penalty.
    """
    gts, res = _coco_inputs(references, hypotheses)
    scorers = [(Bleu(4), [f"COCO BLEU-{n}" for n in range(1, 5)]),
               (Rouge(), "ROUGE-L"), (Cider(), "CIDEr")]
    if meteor is None:
        meteor = java_available()
    if meteor:
        scorers.append((Meteor(), "METEOR"))
    scores: dict[str, float] = {}
    for scorer, names in scorers:
        with contextlib.redirect_stdout(io.StringIO()):  # the scorers print as they go
            value, _ = scorer.compute_score(gts, res)
        if isinstance(names, list):
            scores.update({n: float(v) for n, v in zip(names, value)})
        else:
            scores[names] = float(value)
    return scores


def evaluate(references: Sequence[Sequence[str]], hypotheses: Sequence[str],
             coco: bool = True, meteor: bool | None = None) -> dict[str, float]:
    """nltk BLEU-1..4 and, with ``coco``, the COCO metrics, in one dictionary.

    ``meteor=None`` computes METEOR where Java is present; ``False`` skips it
    (it starts a Java process, seconds per call).
    """
    scores = bleu(references, hypotheses)
    if coco:
        scores.update(coco_metrics(references, hypotheses, meteor=meteor))
    return scores


def per_image_cider(references: Sequence[Sequence[str]], hypotheses: Sequence[str]) -> np.ndarray:
    """CIDEr of each caption against its own references (notebook 07).

    Corpus CIDEr is the mean of these. Each image's score weighs its n-grams
    by how rare they are in all the references (TF-IDF), so a caption that
    gets the rare, telling words right scores high: good for finding the best
    and the worst captions of a split.
    """
    gts, res = _coco_inputs(references, hypotheses)
    _, each = Cider().compute_score(gts, res)
    return np.asarray(each, dtype=np.float64)


def vocabulary_use(generated: Sequence[str], references: Sequence[Sequence[str]],
                   top: int = 10) -> dict:
    """How the generated captions use words, against the human references (notebook 07).

    Returns ``generated_distinct`` and ``reference_distinct`` (how many
    different words each uses), ``overused``: the ``top`` words whose share of
    all generated words most exceeds their share of the reference words, as
    ``(word, generated share, reference share)``, and ``never_used``: the
    ``top`` most frequent reference words that no generated caption contains,
    as ``(word, count in the references)``. Captioners typically use a small,
    safe part of the vocabulary.
    """
    made = Counter(w for caption in generated for w in tokens(caption))
    said = Counter(w for captions in references for c in captions for w in tokens(c))
    made_total, said_total = max(sum(made.values()), 1), max(sum(said.values()), 1)
    excess = {w: made[w] / made_total - said[w] / said_total for w in made}
    overused = sorted(excess, key=lambda w: (-excess[w], w))[:top]
    return {
        "generated_distinct": len(made),
        "reference_distinct": len(said),
        "overused": [(w, made[w] / made_total, said[w] / said_total) for w in overused
                     if excess[w] > 0],
        "never_used": [(w, n) for w, n in said.most_common() if w not in made][:top],
    }


LOCK_TIMEOUT = 30.0
"""Seconds :func:`save_metrics` waits for another writer of the same ``metrics.json``."""


@contextlib.contextmanager
def _locked(path: Path, timeout: float | None = None):
    """Hold ``<path>.lock`` while the block runs: one writer of ``path`` at a time.

    The lock is a file created with ``O_CREAT | O_EXCL``, which only one process
    can do, on Linux, macOS and Windows alike. Whoever finds it taken waits up
    to ``timeout`` seconds (:data:`LOCK_TIMEOUT`), then says which file to
    delete if no one holds it.
    """
    timeout = LOCK_TIMEOUT if timeout is None else timeout
    lock = path.with_name(path.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            handle = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{lock} has been held for over {timeout:.0f} s: another notebook is "
                    f"writing {path.name}. If none is (a kernel killed mid-write leaves the "
                    f"lock behind), delete {lock} and run the cell again.") from None
            time.sleep(0.01)
    try:
        os.write(handle, f"{os.getpid()}\n".encode())
        os.close(handle)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)


def save_metrics(run_dir: str | Path, method: str, scores: Mapping[str, float], **info) -> Path:
    """Add (or replace) the scores of one decoding method in ``<run_dir>/metrics.json``.

    ``info`` (split, dataset, encoder weights, ...) is stored beside the scores,
    so the file says what made it. Read, change and write happen under a lock
    file, so two notebooks saving into one run folder at once both keep their
    scores.
    """
    path = Path(run_dir) / METRICS_FILE
    with _locked(path):
        data = json.loads(path.read_text()) if path.exists() else {}
        data.setdefault("methods", {})[method] = {"scores": dict(scores), **info}
        return write_atomically(path, json.dumps(data, indent=1))


def load_metrics(run_dir: str | Path, with_info: bool = False) -> dict[str, dict]:
    """The scores saved in ``metrics.json``, by decoding method.

    ``with_info``: each method's whole record, its ``scores`` and what made
    them (split, images, epoch, ...), to check that two methods are comparable.
    """
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist: run notebook 06 to evaluate the model")
    methods = json.loads(path.read_text())["methods"]
    return methods if with_info else {m: v["scores"] for m, v in methods.items()}


PUBLISHED = {
    "original tutorial (VGG16 + LSTM merge)": {
        "source": "the description of the original tutorial this series re-creates",
        "decoding": "greedy", "split": "90% train / 10% test of Flickr8k, not the official split",
        "start/end counted": "not stated",
        "scores": {"BLEU-1": 0.548, "BLEU-2": 0.323}},
    "VGG16 + LSTM merge tutorial": {
        "source": "J. Brownlee (2017), How to Develop a Deep Learning Photo Caption Generator "
                  "from Scratch, Machine Learning Mastery",
        "decoding": "greedy", "split": "official Flickr8k test (1,000 images)",
        "start/end counted": "yes (startseq/endseq stay in both captions and references)",
        "scores": {"BLEU-1": 0.579, "BLEU-2": 0.345, "BLEU-3": 0.252, "BLEU-4": 0.131}},
    "merge (Tanti et al. 2018)": {
        "source": "M. Tanti, A. Gatt, K. Camilleri (2018), Where to put the image in an image "
                  "caption generator, Natural Language Engineering 24(3)",
        "decoding": "beam 3", "split": "Flickr8k test (1,000 images)",
        "start/end counted": "no (MSCOCO evaluation code)",
        "scores": {"BLEU-1": 0.600, "BLEU-2": 0.413, "BLEU-3": 0.273, "BLEU-4": 0.178}},
    "soft attention (Xu et al. 2015)": {
        "source": "K. Xu et al. (2015), Show, Attend and Tell: Neural Image Caption Generation "
                  "with Visual Attention, ICML",
        "decoding": "beam search", "split": "Flickr8k test (1,000 images)",
        "start/end counted": "not stated",
        "scores": {"BLEU-1": 0.67, "BLEU-2": 0.448, "BLEU-3": 0.299, "BLEU-4": 0.195}},
}
"""Flickr8k scores reported by the original tutorial and in the literature, each with its
``source``. Only comparable with a run on Flickr8k, and only where split, decoding and the
treatment of start/end tokens match."""

REFERENCE_SCORES = {name: entry["scores"] for name, entry in PUBLISHED.items()}
"""Just the scores of :data:`PUBLISHED`, as rows for :func:`format_table`."""


def format_table(rows: Mapping[str, Mapping[str, float]], title: str = "",
                 width: int = 100) -> str:
    """Scores as an aligned text table: one row per method, one column per metric.

    A table wider than ``width`` characters (a notebook shows about 100) is split
    into several tables of fewer columns, each with the row names, one under the
    other, so nothing wraps.
    """
    columns: list[str] = []
    for scores in rows.values():
        columns += [c for c in scores if c not in columns]
    names = max([len(r) for r in rows] + [len(title)])
    widths = {c: max(len(c), 6) for c in columns}
    blocks: list[list[str]] = [[]]
    for column in columns:
        used = names + sum(widths[c] + 2 for c in blocks[-1])
        if blocks[-1] and used + widths[column] + 2 > width:
            blocks.append([])
        blocks[-1].append(column)
    tables = []
    for block in blocks:
        lines = [f"{title:<{names}}  " + "  ".join(f"{c:>{widths[c]}}" for c in block)]
        for name, scores in rows.items():
            cells = [f"{scores[c]:.3f}" if c in scores else "-" for c in block]
            lines.append(f"{name:<{names}}  " + "  ".join(
                f"{v:>{widths[c]}}" for v, c in zip(cells, block)))
        tables.append("\n".join(lines))
    return "\n\n".join(tables)
