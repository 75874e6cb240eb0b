"""Do the series' quality checks hold on every machine? A sweep of seeds and instruction sets.

Floating-point results differ across CPUs: oneDNN picks its kernels by
instruction set, features change in the 7th digit, and training amplifies that
into other captions and another best epoch. A quality assertion is only worth
keeping if it holds, with a wide margin, for every model seed and every
instruction set. This script measures what notebooks 06-09 assert, on the world
that ``make test`` uses (200 images, 20 test images), for:

* model seeds (``CAPTION_SEED``), 0-4 by default;
* ``ONEDNN_MAX_CPU_ISA`` set to ``SSE41``, ``AVX2`` and the machine's default.

Each instruction set runs in its own process (the variable is read when
TensorFlow starts), which pretrains its own encoder (``make test``'s
``shapes-vgg-small`` unless ``--encoder`` says otherwise), extracts the features
once and trains the real and the blind model for each seed, notebook 08's
attention model (``--no-attention`` leaves it out) and notebook 09's transformer
(``--no-transformer`` leaves it out), each as ``make test`` trains it. On a CPU whose
best is AVX2, ``AVX2`` and ``default`` are the same kernels: ``--isas default
SSE41`` then covers both. Run it with ``make sweep`` or ``python -m
benchmarks.quality_sweep``: for five seeds, about 14 minutes per instruction set on
2 cores with the attention model and the transformer, 16 for SSE4.1, the slowest
(measured: 2-core x86_64, 2026-11-27; each model adds about its training time per
seed). It is a measurement, not a test.

It resumes: each instruction set's rows go to ``<folder>/<ISA>.json`` as each seed
is measured, and a rerun measures only the seeds that file lacks for the same
images, encoder and models; ``--again`` removes that instruction set's folder
(encoder, features, models) and measures it afresh. ``sweep.json`` holds the
rows of the last run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ISAS = ("SSE41", "AVX2", "default")


def _one_isa(isa: str, seeds: list[int], images: int, folder: Path,
             encoder: str = "shapes-vgg-small", attention: bool = True,
             transformer: bool = True) -> list[dict]:
    """Train and score the real and the blind model (attention, transformer) for each seed."""
    from helpers.decoding import greedy_decode
    from helpers.metrics import bleu
    from helpers.models import build_caption_model
    from helpers.pipeline import load_or_train, prepare
    from helpers.runs import load_trained, run_info
    from helpers.settings import get_settings
    from helpers.shapes import load_scenes
    from helpers.shapes_truth import truth_rates
    from helpers.training import fit

    rows = []
    for seed in seeds:
        # each instruction set pretrains its own encoder: that drifts too
        settings = get_settings(dataset="shapes", data_dir=folder / isa / "data",
                                shapes_images=images, run_dir=folder / isa / f"seed{seed}",
                                seed=seed, encoder=encoder)
        shared = folder / isa / "features"
        if shared.is_dir() and not (settings.run_dir / "features").exists():
            shutil.copytree(shared, settings.run_dir / "features")  # same ISA, same features
        run = prepare(settings, progress=False, grid=attention or transformer)
        if not shared.is_dir():
            shutil.copytree(settings.run_dir / "features", shared)
        model, meta = load_or_train(run, verbose=0)
        test = run.split("test")
        references = [run.dataset.captions[name] for name in test.names]
        scenes = load_scenes(run.dataset.root)
        scenes = [scenes[name] for name in test.names]
        blind_dir = settings.run_dir / "blind"
        fit(build_caption_model(len(run.vocab), feature_dim=run.feature_dim, seed=seed), run.vocab,
            run.split("train").blind(), run.split("val").blind(), blind_dir,
            epochs=settings.epochs, seed=seed, verbose=0,
            info={**run_info(settings), "blind": True})
        blind_model, _, _ = load_trained(blind_dir)
        row = {"isa": isa, "seed": seed, "test_images": len(test.names),
               "best_epoch": meta["epoch"], **_decoding_checks(model, test, run.vocab)}
        said = {}
        for label, decoder_model, data in (("real", model, test), ("blind", blind_model,
                                                                   test.blind())):
            captions = said[label] = greedy_decode(decoder_model, data.features,
                                                   run.vocab).captions
            rates = truth_rates(captions, scenes)
            row[label] = {"BLEU-4": bleu(references, captions)["BLEU-4"],
                          **{f"{kind} {what}": value if value == value else 0.0  # nan: none
                             for kind, r in rates.items() for what, value in r.items()},
                          **_confusion_diagonal(captions, scenes)}
        if attention:
            row["real"].update(_attention_check(run, scenes))
        if transformer:
            row["09"] = _transformer_check(run, said["real"], scenes)
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def _confusion_diagonal(captions: list[str], scenes: list) -> dict:
    """Notebook 07's check: the share of one-colour (one-shape) pictures named right."""
    from helpers.shapes_truth import share_right, truth_confusion

    return {f"07 {kind} right": share_right(table)
            for kind, table in truth_confusion(captions, scenes).items()}


def _attention_check(run, scenes: list) -> dict:
    """Notebook 08's check: attention on the object a word names, against a uniform map.

    Trained as notebook 08 trains it: under ``make test`` (``CAPTION_QUICK``, set for the
    children by :func:`run`) for :func:`helpers.settings.demo_epochs` epochs.
    """
    from dataclasses import replace

    from helpers.decoding import greedy_decode
    from helpers.pipeline import load_or_train
    from helpers.settings import demo_epochs
    from helpers.shapes_truth import attention_on_named

    as_notebook_08 = replace(run, settings=replace(run.settings,
                                                   epochs=demo_epochs(run.settings.epochs)))
    model, meta = load_or_train(as_notebook_08, attention=True, verbose=0)
    decoded = greedy_decode(model, run.split("test", grid=True).features, run.vocab)
    looked = []
    for tokens, maps, scene in zip(decoded.tokens, decoded.attention, scenes):
        looked += attention_on_named([run.vocab.words[t] for t in tokens], maps, scene)
    if not looked:  # no colour or shape word names an object: the check has nothing to see
        return {"08 on named / uniform": 0.0, "08 words": 0}
    on_object = sum(r["on_object"] for r in looked) / len(looked)
    uniform = sum(r["uniform"] for r in looked) / len(looked)
    return {"08 on named / uniform": on_object / uniform, "08 words": len(looked),
            "08 best epoch": meta["epoch"], "08 epochs": meta["epochs"]}


def _transformer_check(run, merge_captions: list[str], scenes: list) -> dict:
    """Notebook 09's checks: colour with shape and order, the transformer's and merge's.

    The transformer is trained as notebook 09 trains it: the notebook's defaults
    (:func:`helpers.pipeline.build_model` builds the same model), under ``make test``
    (``CAPTION_QUICK``) for :func:`helpers.settings.demo_epochs` epochs. The merge
    model is notebook 05's, the one notebook 09 compares with. Greedy captions of
    the test split.
    """
    from dataclasses import replace

    from helpers.caption_checks import reader_checks
    from helpers.decoding import greedy_decode
    from helpers.pipeline import load_or_train
    from helpers.settings import demo_epochs

    as_notebook_09 = replace(run, settings=replace(run.settings,
                                                   epochs=demo_epochs(run.settings.epochs)))
    model, meta = load_or_train(as_notebook_09, model="transformer", verbose=0)
    captions = greedy_decode(model, run.split("test", grid=True).features, run.vocab).captions
    checks = {"transformer": reader_checks(captions, scenes),
              "merge": reader_checks(merge_captions, scenes)}
    return {"best epoch": meta["epoch"], "epochs": meta["epochs"],
            **{name: {f"{measure} {key}": None if value != value else value  # nan: none
                      for measure, rates in check.items() for key, value in rates.items()}
               for name, check in checks.items()}}


def _decoding_checks(model, test, vocab) -> dict:
    """Notebook 06's other checks: the classic loop agrees, beam 3 is at least as probable."""
    from helpers.classic import classic_greedy_decode
    from helpers.decoding import beam_search, greedy_decode

    greedy = greedy_decode(model, test.features, vocab)
    beam = beam_search(model, test.features, vocab, beam_size=3)
    return {"classic_agrees": classic_greedy_decode(model, test.features[:5], vocab)
            == greedy.captions[:5],
            "beam3_minus_greedy_logp": float(beam.scores.mean() - greedy.scores.mean())}


def _measure(isa: str, seeds: list[int], images: int, folder: Path, encoder: str,
             attention: bool, transformer: bool):
    """Measure ``seeds`` under ``isa`` in a child process, yielding each row as it comes."""
    # as make test runs the notebooks (conftest.py): quick demonstrations
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CAPTION_QUICK="1")
    env.pop("ONEDNN_MAX_CPU_ISA", None)
    if isa != "default":
        env["ONEDNN_MAX_CPU_ISA"] = isa
    command = [sys.executable, "-m", "benchmarks.quality_sweep", "--child", isa,
               "--images", str(images), "--folder", str(folder), "--encoder", encoder,
               "--seeds", *map(str, seeds), *([] if attention else ["--no-attention"]),
               *([] if transformer else ["--no-transformer"])]
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / f"{isa}.log"
    with log.open("w") as errors, subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                                                   stderr=errors, text=True) as child:
        for line in child.stdout:
            if line.startswith("{"):
                yield json.loads(line)
    if child.returncode:
        raise RuntimeError(f"the {isa} run failed ({log}):\n{log.read_text()[-3000:]}")


def _key(images: int, encoder: str, attention: bool, transformer: bool) -> dict:
    """What an instruction set's saved rows must share with a rerun to be kept."""
    return {"images": images, "encoder": encoder, "attention": attention,
            "transformer": transformer}


def _saved(path: Path, key: dict) -> dict[int, dict]:
    """The rows by seed in ``path`` if it was measured with ``key``; none otherwise."""
    if not path.is_file():
        return {}
    saved = json.loads(path.read_text())
    if {k: saved.get(k) for k in key} != key:
        print(f"{path.name} was measured with other settings: measuring again", flush=True)
        return {}
    return {row["seed"]: row for row in saved["rows"]}


def _save(path: Path, key: dict, rows: dict[int, dict], seconds: float) -> None:
    """Write an instruction set's rows atomically (temporary file, then rename)."""
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps({**key, "seconds": round(seconds),
                                     "rows": [rows[s] for s in sorted(rows)]}, indent=1))
    temporary.replace(path)


def run(seeds: list[int], isas: list[str], images: int, folder: Path,
        encoder: str = "shapes-vgg-small", attention: bool = True, transformer: bool = True,
        again: bool = False) -> list[dict]:
    """Every (instruction set, seed) pair, each instruction set in a child process.

    Resumable: the rows of each instruction set are kept in ``<folder>/<ISA>.json``,
    written as each seed is measured; the seeds already there (same images, encoder
    and models) are not measured again unless ``again``, which also removes the
    instruction set's folder so that its encoder and models are made afresh.
    """
    import time

    key = _key(images, encoder, attention, transformer)
    rows = []
    for isa in isas:
        path = folder / f"{isa}.json"
        if again:
            shutil.rmtree(folder / isa, ignore_errors=True)
            path.unlink(missing_ok=True)
        measured = _saved(path, key)
        seconds = json.loads(path.read_text()).get("seconds", 0) if measured else 0
        missing = [seed for seed in seeds if seed not in measured]
        if missing:
            print(f"{isa}: measuring seeds {', '.join(map(str, missing))}"
                  + (f" ({len(seeds) - len(missing)} already in {path})"
                     if len(missing) < len(seeds) else ""), flush=True)
            started = time.monotonic() - seconds
            for row in _measure(isa, missing, images, folder, encoder, attention, transformer):
                measured[row["seed"]] = row
                _save(path, key, measured, time.monotonic() - started)
                print(f"{isa}: seed {row['seed']} measured", flush=True)
        else:
            print(f"{isa}: every seed already in {path} (--again measures them afresh)",
                  flush=True)
        rows += [measured[seed] for seed in seeds]
    return rows


NOTEBOOK_08_FLOOR = 1.3
"""Notebook 08 asserts attention on the named object at least this many times a uniform map's."""

NOTEBOOK_09_FLOOR: float | None = 0.4
"""Notebook 09 asserts the transformer's colour with shape right when named at least this share.

The sweep of seeds 0-4 under the default ISA and SSE4.1 measured 55-77% (docs/maintainers.md).
Its order right (0-23%) and its lead over merge (10-35 points, on 13-20 captions) are
reported, not asserted: too small, or too close to nothing, for a wide margin.
"""

COLUMNS = ("BLEU-4", "background right_when_named", "background named", "colours right",
           "colours right_when_named", "shapes right", "07 colour right", "07 shape right")


def report(rows: list[dict]) -> list[str]:
    """A table, one line per run, and the worst case of each column."""
    head = f"{'ISA':>7} {'seed':>4} {'epoch':>5}  " + "  ".join(
        f"{c + ' real/blind':>28}" for c in COLUMNS)
    lines = [head]
    for row in rows:
        cells = "  ".join(f"{row['real'][c]:>13.3f} / {row['blind'][c]:<12.3f}" for c in COLUMNS)
        lines.append(f"{row['isa']:>7} {row['seed']:>4} {row['best_epoch']:>5}  {cells}")
    worst = "  ".join(f"{min(r['real'][c] for r in rows):>13.3f} / "
                      f"{max(r['blind'][c] for r in rows):<12.3f}" for c in COLUMNS)
    lines.append(f"{'worst: real min / blind max':>19}  {worst}")
    if all("classic_agrees" in r for r in rows):
        lines.append(f"classic loop agrees with batched greedy: "
                     f"{sum(r['classic_agrees'] for r in rows)}/{len(rows)} runs; beam 3 minus "
                     f"greedy mean log probability, smallest: "
                     f"{min(r['beam3_minus_greedy_logp'] for r in rows):.4f}")
    attention = [r["real"]["08 on named / uniform"] for r in rows
                 if "08 on named / uniform" in r["real"]]
    if attention:
        epochs = sorted({r["real"].get("08 epochs", "?") for r in rows if "08 epochs" in r["real"]})
        trained = f" trained {'/'.join(map(str, epochs))} epochs," if epochs else ""
        lines.append(f"notebook 08, attention on the named object / a uniform map's share:"
                     f"{trained} smallest {min(attention):.2f} of {len(attention)} runs "
                     f"(asserted: {NOTEBOOK_08_FLOOR})")
    return lines + report_09(rows)


def _share(value: float | None) -> str:
    return "   -" if value is None else f"{value:>4.0%}"


def report_09(rows: list[dict]) -> list[str]:
    """Notebook 09's checks, transformer / merge per run, and their worst cases."""
    rows = [r for r in rows if "09" in r]
    if not rows:
        return []
    pairs, order = "colour_shape share_right_when_named", "order share_right"
    stated = "order share_stated"
    epochs = "/".join(map(str, sorted({r["09"]["epochs"] for r in rows})))
    lines = [f"notebook 09, transformer / merge, greedy (the transformer trained {epochs} "
             f"epochs): colour with shape right when named; order right; order stated",
             f"{'ISA':>7} {'seed':>4} {'epoch':>5}  {'colour with shape':>17}  "
             f"{'order right':>11}  {'order stated':>12}"]
    for r in rows:
        t, m = r["09"]["transformer"], r["09"]["merge"]
        lines.append(f"{r['isa']:>7} {r['seed']:>4} {r['09']['best epoch']:>5}  "
                     f"{_share(t[pairs]):>7} / {_share(m[pairs]):<7}  "
                     f"{_share(t[order])} / {_share(m[order])}  "
                     f"{_share(t[stated])} / {_share(m[stated]):<5}")
    t_pairs = [r["09"]["transformer"][pairs] for r in rows]
    m_pairs = [r["09"]["merge"][pairs] for r in rows]
    gaps = [t - m for t, m in zip(t_pairs, m_pairs) if t is not None and m is not None]
    lines.append(
        f"colour with shape right when named: transformer smallest "
        f"{_share(min((v for v in t_pairs if v is not None), default=None)).strip()}, merge "
        f"largest {_share(max((v for v in m_pairs if v is not None), default=None)).strip()}, "
        f"transformer minus merge smallest "
        f"{'-' if not gaps else f'{min(gaps) * 100:+.0f} points'} of {len(rows)} runs"
        + ("" if NOTEBOOK_09_FLOOR is None else
           f" (asserted: transformer at least {NOTEBOOK_09_FLOOR:.0%})"))
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--isas", nargs="+", default=list(ISAS))
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--folder", type=Path, default=Path("runs") / "sweep")
    parser.add_argument("--encoder", default="shapes-vgg-small",
                        help="the encoder (make test's: shapes-vgg-small)")
    parser.add_argument("--no-attention", dest="attention", action="store_false",
                        help="leave out notebook 08's attention model (quicker)")
    parser.add_argument("--no-transformer", dest="transformer", action="store_false",
                        help="leave out notebook 09's transformer (quicker)")
    parser.add_argument("--again", action="store_true",
                        help="measure every instruction set afresh, even one already saved")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    folder = args.folder.resolve()
    if args.child:
        _one_isa(args.child, args.seeds, args.images, folder, args.encoder, args.attention,
                 args.transformer)
        return
    rows = run(args.seeds, args.isas, args.images, folder, args.encoder, args.attention,
               args.transformer, args.again)
    (folder / "sweep.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(report(rows)))


if __name__ == "__main__":
    main()
