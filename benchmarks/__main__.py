"""``python -m benchmarks``: print every benchmark's figures and ratios."""

import os
import platform

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from benchmarks import feature_extraction  # noqa: E402


def main() -> None:
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs")
    print("\n== feature extraction (VGG16 to fc2, shapes world images)")
    for line in feature_extraction.report(feature_extraction.run()):
        print(line)


if __name__ == "__main__":
    main()
