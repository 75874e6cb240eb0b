"""``python -m benchmarks``: every benchmark's figures and ratios, each measured in one run."""

import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import (  # noqa: E402
    attention,
    decoding,
    distribute,
    encoders,
    feature_extraction,
    training,
)

BENCHMARKS = (
    ("feature extraction (VGG16 to fc2, shapes world images)", feature_extraction),
    ("the shapes world's encoders: shapes-vgg (pretrained here) against VGG16", encoders),
    ("training speed at Flickr8k scale (predicted words per second)", training),
    ("training on one and two devices, and in mixed precision (words per second)", distribute),
    ("decoding the 1,000-image test split at Flickr8k scale", decoding),
    ("the attention captioner (notebook 08) and the transformer (notebook 09) against the merge "
     "model, Flickr8k scale", attention),
)
"""Each benchmark module has ``run()`` (measure) and ``report(results)`` (lines to print)."""


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs")
    for title, benchmark in BENCHMARKS:
        print(f"\n== {title}")
        for line in benchmark.report(benchmark.run()):
            print(line)


if __name__ == "__main__":
    main()
