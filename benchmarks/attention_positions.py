"""Does a position embedding help the attention model say where things are? (issue 22)

Notebook 09 shows that notebook 08's attention model cannot tell a grid from its
mirror image, and that the transformer, whose grid cells carry a learned row and
column vector, pairs colours with shapes far better. This measurement gives the
attention model the same position embedding (``build_attention_model(...,
grid_positions=True)``), trains it exactly as notebook 08 trains its model, on
the run folder that ``make tutorial`` left (the 1,000-image shapes world), and
prints the reader's checks of both attention models next to each other. It
trains one model (about 4 minutes on 2 cores); it is a measurement, not a test.

    python -m benchmarks.attention_positions [--epochs 20]
"""

from __future__ import annotations

import argparse
import json


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=None,
                        help="epochs (default: the settings', as notebook 08)")
    args = parser.parse_args(argv)

    from helpers.caption_checks import format_checks, reader_checks
    from helpers.decoding import greedy_decode
    from helpers.metrics import evaluate
    from helpers.models import build_attention_model
    from helpers.pipeline import load_or_train, prepare
    from helpers.runs import load_trained, run_info, save_captions
    from helpers.settings import get_settings
    from helpers.shapes import load_scenes
    from helpers.training import fit

    settings = get_settings(dataset="shapes")
    epochs = args.epochs or settings.epochs
    run = prepare(settings, grid=True)
    plain, _ = load_or_train(run, model="attention")
    train, val = run.split("train", grid=True), run.split("val", grid=True)
    test = run.split("test", grid=True)
    folder = settings.run_dir / "attention-positions"
    placed = build_attention_model(len(run.vocab), grid_shape=run.layers.grid_shape,
                                   grid_stats=run.grid_stats(), seed=settings.seed,
                                   grid_positions=True)
    fit(placed, run.vocab, train, val, folder, epochs=epochs, seed=settings.seed, verbose=0,
        info={**run_info(settings, attention=True), "grid_positions": True})
    placed, _, meta = load_trained(folder)
    scenes = load_scenes(run.dataset.root)
    test_scenes = [scenes[name] for name in test.names]
    references = [run.dataset.captions[name] for name in test.names]
    checks, scores = {}, {}
    for label, model in (("attention", plain), ("attention + grid positions", placed)):
        decoded = greedy_decode(model, test.features, run.vocab)
        checks[label] = reader_checks(decoded.captions, test_scenes)
        scores[label] = {k: round(v, 3) for k, v in
                         evaluate(references, decoded.captions, meteor=False).items()
                         if k in ("BLEU-4", "CIDEr")}
        if model is placed:
            save_captions(folder, "test", test.names, {"greedy": decoded})
    print(f"{settings.run_dir}, test split, {len(test.names)} pictures, greedy; "
          f"best epoch of the placed model: {meta['epoch']}")
    print(json.dumps(scores, indent=1))
    print(format_checks(checks))


if __name__ == "__main__":
    main()
