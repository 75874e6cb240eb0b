"""pytest set-up shared by the unit tests and the notebook tests (nbval).

Tests and notebooks run on the offline shapes world, made small so the whole
series runs quickly on a CPU, with data and run folders of their own so a
learner's `make tutorial` results are never touched. The encoder is the faster
variant of shapes-vgg, pretrained once in the tests' data folder. Kernels started by nbval
inherit this environment. A caller can override any of it.
"""

import os
from pathlib import Path

from helpers.settings import QUICK_VARIABLE, run_name

ROOT = Path(__file__).resolve().parent

# a learner's settings file (my-settings.ini, helpers.config) never changes a test
os.environ["CAPTION_SETTINGS_FILE"] = "none"
os.environ.setdefault("CAPTION_DATASET", "shapes")
os.environ.setdefault("CAPTION_SHAPES_IMAGES", "200")
# the faster pretrained encoder: pretrained once per data folder, in about two minutes
os.environ.setdefault("CAPTION_ENCODER", "shapes-vgg-small")
os.environ.setdefault("CAPTION_DATA_DIR", str(ROOT / "data" / "ci"))
# one run folder per encoder, as a learner's runs/<dataset>/<encoder>; runs a notebook makes
# beside its own (run_dir.parent / ...) stay inside runs/ci
os.environ.setdefault("CAPTION_RUN_DIR", str(ROOT / "runs" / "ci" / run_name(
    os.environ["CAPTION_ENCODER"], os.environ.get("CAPTION_ENCODER_WEIGHTS", "imagenet"))))
# not a setting (helpers.settings.quick_demo): shorter demonstrations where nothing checked
# depends on their length: notebook 02 probes 100 images rather than 400, notebook 08 trains
# its attention model 8 epochs; the models it trains are marked "quick" in model.json
os.environ.setdefault(QUICK_VARIABLE, "1")


def pytest_collection_finish(session):
    """Start the two-device training runs in the background when tests/test_distribute.py is
    among the tests: they take half a minute in a process of their own."""
    if any(item.nodeid.startswith("tests/test_distribute.py") for item in session.items):
        from tests.test_distribute import start_runs

        start_runs()
