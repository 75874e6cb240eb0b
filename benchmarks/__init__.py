"""Speed and memory of the series' helpers, as ratios against the classic approach.

Run with ``make bench`` (or ``python -m benchmarks``). Each figure is measured
in one run on the same machine, so the ratios are meaningful even where the
absolute numbers are not. Nothing here is a test: timings are never asserted.
"""
