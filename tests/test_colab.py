"""Each notebook alone on a simulated fresh Colab runtime gets what it needs (issue 11).

Colab gives every notebook a fresh machine: no data, no run folder, and the
default dataset, Flickr8k, to download. This test runs each notebook in its own
fresh kernel that takes the Colab branch of the Setup cell:

* a stand-in ``google.colab`` package is importable and imported at kernel
  start (an IPython startup file), as it is on Colab;
* ``helpers`` is not importable until the Setup cell puts the clone on
  ``sys.path`` (the startup file hides this environment's editable install;
  a first cell added by the test checks it);
* the kernel's working folder (Colab's ``/content``) holds
  ``vgg16-lstm-captioning`` as a link to this repository, so the Setup cell
  skips ``git clone`` as it does on a second run on Colab, and its
  ``%pip install`` finds everything installed (``PIP_NO_INDEX``: it cannot
  download anything, nor change the environment);
* the data and run folders are new and empty, and no ``CAPTION_*`` setting is
  inherited, so the dataset is the default, Flickr8k;
* Flickr8k is a stand-in of 12 images (drawn shapes-world pictures with their
  captions, in the two release zips' layout) served from 127.0.0.1; once
  ``helpers`` is imported, the startup file points ``helpers.data`` at
  that mirror. ImageNet's weights
  cannot be had offline: VGG16 is random (``CAPTION_ENCODER_WEIGHTS=none``);
* Google Drive is a folder of the test: the stand-in ``google.colab.drive.mount``
  links ``<content>/drive/MyDrive`` to it (``USE_DRIVE`` is on by default). An
  audit hook notes every file opened there by code other than
  :mod:`helpers.drive`'s copies: the notebooks must work on the local disk.
  Two runtimes given one Drive folder are a learner's two notebooks: the
  second must rebuild nothing (:func:`test_drive_pays_once_per_series`);
* every proxy variable points at a closed local port, so a download a
  notebook might try past the mirror (urllib, Keras, pip, git) fails at once
  instead of reaching the network.

What runs, and why (about two and a half minutes on a 2-core CPU):

* to the end: 00 (its ImageNet line says FAIL offline, which must not stop
  it), 02, 03 and 04;
* 01 up to the cell that asserts the real Flickr8k's size (8,091 images,
  6000/1000/1000 splits), which a stand-in cannot have;
* 05 and 07 up to the cell that would rebuild: they need exactly what 04 and 06
  need (``SAME_AS``), rebuilt by the same code, so their own cells are tested
  by ``make test`` on the shapes world and, with a second runtime, by the Drive
  test; 06 up to where it has the dataset, features, vocabulary and a model,
  trained here for 2 epochs. Their later cells train longer, time methods and check the
  quality of captions: minutes, and asserts that a 2-epoch model on 12
  pictures cannot meet. ``make test`` runs them on the shapes world. 08 up
  to where it has the features with the conv grid, the vocabulary and the
  merge model it compares with; it trains its own model after that. 09 up to
  where it has the grid, the merge and the attention models (both trained
  here for 2 epochs) and begins its lesson.

A notebook passes when its cells ran without error (its own asserts
included), the data folder that was empty holds the downloaded Flickr8k, and
its output says what it fetched or rebuilt.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat runs notebooks (pip install nbval)")
nbclient = pytest.importorskip("nbclient", reason="nbclient runs notebooks (pip install nbval)")
pytest.importorskip("ipykernel", reason="the notebooks need a Jupyter kernel (ipykernel)")

ROOT = Path(__file__).resolve().parents[1]
CLONE = "vgg16-lstm-captioning"  # the folder the Setup cell clones into
DRIVE_FOLDER = "caption-tutorial"  # helpers.drive.DRIVE_FOLDER, in MyDrive
N_IMAGES = 12
EPOCHS = 2
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing listens, nothing gets through

# notebook: (the first cell not run, found by a piece of its code, or None for all;
#            what its output must say it fetched or rebuilt)
PLAN = {
    "00_environment_check.ipynb": (None, ["FAIL  ImageNet VGG16 weights (optional)",
                                          "OK    Flickr8k zips", "READY"]),
    "01_data_loading.ipynb": ("assert len(dataset.captions) == 8091",
                              [f"CaptionDataset('flickr8k', layout='official', images={N_IMAGES}"]),
    "02_feature_extraction.ipynb": (None, ["The dataset is not in the data folder yet",
                                           "VGG16: weights none", "4096 features"]),
    "03_vocabulary.ipynb": (None, ["The dataset is not in the data folder yet", "saved"]),
    "04_model.ipynb": (None, ["No Flickr8k in the data folder: downloading it",
                              "extracting the features now", "fitting the vocabulary"]),
    "05_training.ipynb": ("prepare(settings", []),  # rebuilds what 04 rebuilds: see SAME_AS
    "06_evaluation.ipynb": ("## Greedy decoding, the plain way", [
        "No Flickr8k in the data folder: downloading it", "extracting the features now",
        f"Training the model now ({EPOCHS} epochs", "model of epoch"]),
    "07_visualizing_captions.ipynb": ("prepare(settings", []),  # as 06: see SAME_AS
    "08_attention.ipynb": ("## The grid: 196 places to look", [
        "No Flickr8k in the data folder: downloading it", "extracting the features now",
        f"Training the model now ({EPOCHS} epochs", "grid block5_conv3 of shape (14, 14, 512)"]),
    "09_transformer.ipynb": ("## What an average cannot know", [
        "No Flickr8k in the data folder: downloading it", "extracting the features now",
        f"Training the model now ({EPOCHS} epochs",
        f"Training the attention model now ({EPOCHS} epochs"]),
}
SAME_AS = {"05_training.ipynb": "04", "07_visualizing_captions.ipynb": "06"}
"""Notebooks that need from a fresh runtime exactly what another needs (helpers.costs.NEEDS),
rebuilt by the same helpers.pipeline code: alone, only their Setup and Parameters cells run here
(their second runtime with Drive runs further in test_drive_pays_once_per_series)."""
GPU_ADVICE = "Runtime > Change runtime type > T4 GPU"  # helpers.check.gpu_note, on Colab
PIP_NOTE = "Note: you may need to restart the kernel to use updated packages."  # %pip says it


def test_every_notebook_has_a_plan():
    assert sorted(PLAN) == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    from helpers.costs import NEEDS

    for notebook, twin in SAME_AS.items():  # a notebook may lean on another only if it can
        assert NEEDS[notebook[:2]] == NEEDS[twin], f"{notebook} needs more than {twin}"


class Mirror(http.server.SimpleHTTPRequestHandler):
    """Serves the stand-in zips and remembers what was asked for."""

    requests: list[str] = []

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        type(self).requests.append(self.path.rsplit("/", 1)[-1])
        super().do_GET()


def stand_in_zips(folder: Path, n_images: int) -> Path:
    """Flickr8k's two release zips, holding a small shapes world in Flickr8k's layout."""
    from helpers.shapes import make_shapes_world

    world = make_shapes_world(folder / "world", n_images=n_images)
    with zipfile.ZipFile(folder / "Flickr8k_Dataset.zip", "w") as zf:
        for image in sorted((world / "Flicker8k_Dataset").iterdir()):
            zf.write(image, f"Flicker8k_Dataset/{image.name}")
    with zipfile.ZipFile(folder / "Flickr8k_text.zip", "w") as zf:
        for text in sorted(world.glob("*.txt")):
            zf.write(text, text.name)
    return folder


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    """The base URL of a local Flickr8k mirror serving the stand-in zips."""
    folder = stand_in_zips(tmp_path_factory.mktemp("mirror"), N_IMAGES)
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Mirror, directory=str(folder)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@dataclass
class Runtime:
    """A fresh Colab runtime: its working folder, environment and empty data folders."""

    content: Path
    env: dict[str, str]
    data_dir: Path
    run_dir: Path


STARTUP = '''\
"""Kernel start on the simulated Colab runtime (written by tests/test_colab.py)."""
import os
import sys

import google.colab  # noqa: F401  (Colab's kernel has it imported: the Setup cells see Colab)

# Colab has no `pip install -e .` of the series: `helpers` comes only from the clone.
sys.meta_path[:] = [f for f in sys.meta_path
                    if not getattr(f, "__module__", "").startswith("__editable__")]


def use_the_mirror(info=None):
    """Once the Setup cell has made `helpers` importable, download from the local mirror."""
    if "helpers" in sys.modules:
        import helpers.download

        helpers.download.FLICKR8K_URL = {url!r}
        helpers.download.FLICKR8K_IMAGES = {n_images}
        import helpers.drive

        helpers.drive.MOUNT_POINT = {mount!r}


def drive_reads(event, args):
    """Note every file opened on "Drive" by code other than helpers/drive.py (its copies)."""
    if event != "open" or not isinstance(args[0], (str, os.PathLike)):
        return
    path = os.fspath(args[0])
    if not any(path.startswith(drive) for drive in {drives!r}):
        return
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_filename.endswith(os.path.join("helpers", "drive.py")):
            return
        frame = frame.f_back
    with open({outside!r}, "a") as log:
        log.write(path + "\\n")


sys.addaudithook(drive_reads)
get_ipython().events.register("pre_run_cell", use_the_mirror)
'''
PROBE = '''\
import importlib.util

assert importlib.util.find_spec("helpers") is None, "before Setup, helpers must not import"
'''
"""A first cell the test adds: as on Colab, only the Setup cell makes ``helpers`` importable."""


DRIVE_STUB = '''\
"""Stand-in for google.colab.drive: "mounting" links MyDrive to a folder that outlives runtimes."""
import os
from pathlib import Path


def mount(mountpoint, force_remount=False):
    link = Path(mountpoint) / "MyDrive"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(os.environ["STUB_MY_DRIVE"], target_is_directory=True)
'''


def fresh_runtime(folder: Path, mirror: str, my_drive: Path) -> Runtime:
    """Everything a fresh kernel needs to believe it is on a fresh Colab machine.

    ``my_drive`` is the learner's Google Drive: it outlives the runtime, so two
    runtimes given the same one share it.
    """
    stub = folder / "colab_stub" / "google" / "colab"  # no google/__init__.py: `google` is
    stub.mkdir(parents=True)                            # a namespace (protobuf lives there)
    (stub / "__init__.py").write_text('"""Stand-in for Colab\'s own module."""\n')
    (stub / "drive.py").write_text(DRIVE_STUB)
    my_drive.mkdir(parents=True, exist_ok=True)
    content = folder / "content"
    content.mkdir()
    (content / CLONE).symlink_to(ROOT, target_is_directory=True)
    startup = folder / "ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    mount = content / "drive"
    (startup / "00-colab.py").write_text(STARTUP.format(
        url=mirror, n_images=N_IMAGES, mount=str(mount),
        drives=(str(mount), str(my_drive)), outside=str(folder / "drive-reads.txt")))
    data_dir, run_dir = folder / "data", folder / "runs"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CAPTION_", "PIP_")) and "proxy" not in k.lower()}
    env |= {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(folder / "colab_stub"),
                                                    os.environ.get("PYTHONPATH")])),
        "IPYTHONDIR": str(folder / "ipython"), "STUB_MY_DRIVE": str(my_drive),
        "CAPTION_DATA_DIR": str(data_dir), "CAPTION_RUN_DIR": str(run_dir),
        "CAPTION_ENCODER_WEIGHTS": "none", "CAPTION_EPOCHS": str(EPOCHS),
        "CAPTION_SETTINGS_FILE": str(folder / "my-settings.ini"),  # none yet, as on Colab
        "KERAS_HOME": str(folder / "keras"),
        "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    }
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        env[name] = CLOSED
    env["no_proxy"] = env["NO_PROXY"] = "127.0.0.1,localhost"  # only the mirror answers
    return Runtime(content, env, data_dir, run_dir)


@pytest.fixture
def runtime(tmp_path, mirror) -> Runtime:
    """A fresh Colab runtime with a Google Drive of its own, empty."""
    return fresh_runtime(tmp_path, mirror, tmp_path / "my-drive")


def run_notebook(path: Path, runtime: Runtime, stop_before: str | None):
    """Execute ``path`` in a fresh kernel of ``runtime``, up to the cell holding ``stop_before``."""
    nb = nbformat.read(path, as_version=4)
    if stop_before is not None:
        stops = [i for i, c in enumerate(nb.cells) if stop_before in c.source]
        assert stops, f"{path.name}: no cell holds {stop_before!r}; update PLAN"
        nb.cells = nb.cells[:stops[0]]
    nb.cells.insert(0, nbformat.v4.new_code_cell(PROBE))
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     shutdown_kernel="immediate",  # a second sooner
                                     resources={"metadata": {"path": str(runtime.content)}})
    client.execute(env=runtime.env, cwd=str(runtime.content))
    return nb


def output_text(cells) -> str:
    """Everything ``cells`` printed or showed as text."""
    parts = []
    for cell in cells:
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                parts.append(out.text)
            elif out.output_type in ("execute_result", "display_data"):
                parts.append(out.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("notebook", sorted(PLAN), ids=lambda n: n[:2])
def test_alone_on_a_fresh_colab(notebook, runtime, mirror):
    stop_before, says = PLAN[notebook]
    assert not runtime.data_dir.exists() and not runtime.run_dir.exists()  # a fresh machine
    Mirror.requests = []
    nb = run_notebook(ROOT / "notebooks" / notebook, runtime, stop_before)
    text = output_text(nb.cells)
    if not notebook.startswith("00") and notebook not in SAME_AS:
        says = ["Downloading data from http://127.0.0.1", *says]
    for note in says:
        assert note in text, f"{notebook} should say {note!r}; it printed:\n{text}"
    setup = [c for c in nb.cells if c.cell_type == "code" and "IN_COLAB =" in c.source]
    printed = output_text(setup).replace(PIP_NOTE, "").strip()
    assert not printed, f"the Setup cell should clone and install nothing here:\n{printed}"
    assert (runtime.content / CLONE).is_symlink(), "the Setup cell cloned or replaced the repo"
    if notebook.startswith("00") or "gpu_line()" in "".join(c.source for c in nb.cells):
        assert f"GPU: none. {GPU_ADVICE}" in text  # on Colab without a GPU
    if notebook.startswith("00") or notebook in SAME_AS:
        assert not runtime.data_dir.exists() or not any(runtime.data_dir.iterdir())
        return
    flickr8k = runtime.data_dir / "flickr8k"
    assert sorted(Mirror.requests) == ["Flickr8k_Dataset.zip", "Flickr8k_text.zip"]
    assert (flickr8k / ".flickr8k-complete").exists()
    assert len(list((flickr8k / "Flicker8k_Dataset").glob("*.jpg"))) == N_IMAGES
    assert (flickr8k / "Flickr8k.token.txt").exists()
    if notebook >= "04":  # what notebooks 02 and 03 would have left is now in the run folder
        assert (runtime.run_dir / "vocab.json").exists()
        assert (runtime.run_dir / "features").is_dir()
    if notebook >= "06":  # and what notebook 05 would have left
        assert (runtime.run_dir / "model.keras").exists()
    if notebook >= "08":  # the conv grid, for attention
        assert (runtime.run_dir / "features" / "block5_conv3.npy").exists()
    assert "Google Drive: " in text  # USE_DRIVE is on: the empty Drive now holds the run
    assert (runtime.content / "drive" / "MyDrive" / DRIVE_FOLDER / "data" / "flickr8k"
            / "downloads").is_dir()
    assert_drive_read_only_by_its_copies(runtime)


def assert_drive_read_only_by_its_copies(runtime: Runtime) -> None:
    """Nothing but helpers.drive's copies opened a file on Drive (the STARTUP audit hook)."""
    log = runtime.content.parent / "drive-reads.txt"
    assert not log.exists(), f"read from Drive outside helpers.drive:\n{log.read_text()}"


SECOND = {"05_training.ipynb": "## One training step",
          "06_evaluation.ipynb": PLAN["06_evaluation.ipynb"][0],
          "07_visualizing_captions.ipynb": "## Captions for the test pictures",
          "08_attention.ipynb": PLAN["08_attention.ipynb"][0]}
"""Notebooks 05-08 on a second runtime, each up to where it has everything it needs."""
REBUILDS = ("downloading it", "extracting the features", "fitting the vocabulary",
            "Training the model now", "pretraining")
"""What a notebook says when it rebuilds what the notebooks before it made."""


def test_drive_pays_once_per_series(tmp_path, mirror):
    """With Drive, a second runtime of 05-08 rebuilds nothing and opens Drive only to copy."""
    my_drive = tmp_path / "my-drive"
    first = fresh_runtime(tmp_path / "first", mirror, my_drive)
    Mirror.requests = []
    run_notebook(ROOT / "notebooks" / "08_attention.ipynb", first, PLAN["08_attention.ipynb"][0])
    assert sorted(Mirror.requests) == ["Flickr8k_Dataset.zip", "Flickr8k_text.zip"]
    stored = my_drive / DRIVE_FOLDER / "runs" / "flickr8k" / first.run_dir.name
    for made in ("vocab.json", "model.keras", "features/fc2.npy", "features/block5_conv3.npy"):
        assert (stored / made).is_file(), f"Drive should keep {made}"
    assert not (my_drive / DRIVE_FOLDER / "data" / "flickr8k" / "Flicker8k_Dataset").exists()
    for notebook, stop_before in SECOND.items():
        second = fresh_runtime(tmp_path / f"second-{notebook[:2]}", mirror, my_drive)
        Mirror.requests = []
        text = output_text(run_notebook(ROOT / "notebooks" / notebook, second,
                                        stop_before).cells)
        assert Mirror.requests == [], f"{notebook} downloaded {Mirror.requests}"
        assert "Google Drive: " in text and "unpacking its zips" in text
        rebuilt = [says for says in REBUILDS if says in text]
        assert not rebuilt, f"{notebook} rebuilt ({rebuilt}) what Drive holds:\n{text}"
        assert_drive_read_only_by_its_copies(second)


def test_the_pip_line_installs_nothing(runtime):
    """The Setup cells' ``%pip install`` finds everything there and downloads nothing."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "pip", "install", "pycocoevalcap"],
                          env=runtime.env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Requirement already satisfied: pycocoevalcap" in done.stdout
    assert "Collecting" not in done.stdout and "Downloading" not in done.stdout
