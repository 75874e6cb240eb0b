"""``python -m benchmarks``: every benchmark's figures and ratios, each measured in one run."""

import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import attention, decoding, encoders, feature_extraction, training  # noqa: E402


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs")
    print("\n== feature extraction (VGG16 to fc2, shapes world images)")
    for line in feature_extraction.report(feature_extraction.run()):
        print(line)
    print("\n== the shapes world's encoders: shapes-vgg (pretrained here) against VGG16")
    for line in encoders.report(encoders.run()):
        print(line)
    print("\n== training speed at Flickr8k scale (predicted words per second)")
    for line in training.report(training.run()):
        print(line)
    print("\n== decoding the 1,000-image test split at Flickr8k scale")
    for line in decoding.report(decoding.run()):
        print(line)
    print("\n== the attention captioner (notebook 08) against the merge model, Flickr8k scale")
    for line in attention.report(attention.run()):
        print(line)


if __name__ == "__main__":
    main()
