"""Where the series runs: paths, Colab, native logs, safe writes (notebook 00).

Nothing here knows about datasets or models. It answers the questions every
other module asks of the machine: where is the repository, is this Colab,
how does a file get written so that a crash never leaves half of it.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

REPO_URL = "https://github.com/caption-tutorial/vgg16-lstm-captioning"
"""Where the series lives; Colab clones it to get ``helpers``. A fork sets its own, then
runs ``make format`` (``python -m tools.notebooks``) to rewrite the badges and Setup cells."""

REPO_REF = "main"
"""The branch or tag that the badges open and the Setup cells clone. A course pins it with
``make format REF=course-2027`` (``python -m tools.notebooks --ref course-2027``), which
rewrites this line, every badge and every Setup cell together."""


def repo_root() -> Path:
    """The folder that holds ``data/`` and ``runs/``, whatever the current working directory.

    In a clone (``pip install -e .``, or the notebooks run from the repository)
    it is the repository: nbval and Jupyter start kernels in ``notebooks/``, a
    script may run from anywhere, so it is found from this file, not from the
    cwd. When ``helpers`` is installed as a plain package this file sits in
    ``site-packages``, which is no place for data: the folder is then
    ``~/caption-tutorial``, one stable folder per user, so every notebook and
    script finds the same data and runs (the cwd would scatter them, e.g. into
    ``notebooks/`` under Jupyter). ``CAPTION_ROOT`` overrides both.
    """
    if "CAPTION_ROOT" in os.environ:
        return Path(os.environ["CAPTION_ROOT"]).expanduser().resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "pyproject.toml").exists() or (here / "notebooks").is_dir():
        return here
    return (Path.home() / "caption-tutorial").resolve()


@contextlib.contextmanager
def replaced_atomically(path: str | Path):
    """A temporary path to write ``path``'s new content to, renamed over ``path`` at the end.

    A run that is killed mid-write leaves either the old file or the new one,
    never half a file: every artifact of the run folder is written this way
    (text, a Keras model or weights, numpy arrays). The temporary file has a
    name of its own (``tempfile.mkstemp`` in the same folder) and ``path``'s
    suffixes (Keras insists on ``.keras`` and ``.weights.h5``), so two notebooks
    writing the same file at once never write into one temporary file; the last
    rename wins, whole. If the block fails, the temporary file is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                    suffix="".join(path.suffixes))
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_atomically(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` through :func:`replaced_atomically` (notebook 00)."""
    path = Path(path)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    with replaced_atomically(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(mode)  # mkstemp makes it private (0600); keep the file's usual mode
    return path


HARMLESS_NATIVE = ("cudart_stub", "cuInit", "oneDNN custom operations", "cpu_feature_guard",
                   "This TensorFlow binary is optimized", "Unable to register cu",
                   "computation placer already registered", "TF-TRT Warning",
                   "All log messages before absl::InitializeLog")
"""Start-up lines of TensorFlow's C++ core that say nothing is wrong (no GPU is fine)."""
FATAL_NATIVE = ("F0000", "Check failed", "Aborted", "out of memory", "OOM", "Segmentation fault",
                "core dumped", "terminate called", "Fatal Python error")
"""Marks of a line with which a kernel died: shown when the next kernel starts."""


def native_log_news(text: str, last: int = 12) -> list[str]:
    """The lines of a native log worth showing a learner: all but the harmless start-up ones.

    >>> native_log_news("I0000 cudart_stub: no GPU\\nF0000 Check failed: out of memory")
    ['F0000 Check failed: out of memory']
    """
    lines = [line for line in text.splitlines()
             if line.strip() and not any(mark in line for mark in HARMLESS_NATIVE)]
    return lines[-last:]


def send_native_logs_to(path: str | Path | None = None, kernel_start: bool = True
                        ) -> Path | None:
    """Send what compiled libraries write straight to standard error into a log file.

    TensorFlow's C++ core writes lines such as ``I0000 ... cudart_stub`` and
    ``E0000 ... failed call to cuInit`` (no GPU here, which is fine) directly to
    the process's file descriptor 2, before ``TF_CPP_MIN_LOG_LEVEL`` applies. A
    notebook shows them in red between the lesson's outputs. Called in a
    notebook's Setup cell, before TensorFlow is imported, this points descriptor
    2 at ``path`` (by default a file in the temporary folder), so they are kept
    there instead. In Jupyter, Python's own warnings and errors still reach the
    notebook: ``sys.stderr`` is the notebook's stream, not descriptor 2.

    A crash's cause must still reach the learner, so at a kernel's start
    (``kernel_start``, a notebook's Setup cell):

    * the log is started afresh, and if the previous kernel's log shows that it
      died (a fatal line of :data:`FATAL_NATIVE`: a GPU error, memory), its
      last lines that are not start-up chatter are printed first;
    * inside IPython, when a cell fails, the lines the log gained while it ran
      are printed under the error (see :func:`show_native_log_on_error`).

    A command-line tool (:func:`native_logs_to_file`) only appends: run from a
    notebook, it must not wipe the log of the kernel that runs it.

    Returns the log file's path, or None when it cannot be written, in which
    case nothing changes.
    """
    if path is None:  # one file per user: a lab machine's /tmp is shared
        user = os.environ.get("USER") or os.environ.get("USERNAME") or "user"
        path = Path(tempfile.gettempdir()) / f"caption-tutorial-{user}-native.log"
    path = Path(path)
    previous = ""
    if kernel_start:
        with contextlib.suppress(OSError):
            previous = path.read_text(errors="replace") if path.is_file() else ""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = os.O_TRUNC if kernel_start else 0
        log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | fresh, 0o600)
    except OSError:
        return None
    news = native_log_news(previous)
    if any(mark in line for line in news for mark in FATAL_NATIVE):
        print(f"The last kernel's native log ({path}) ended with:\n  " + "\n  ".join(news),
              file=sys.stderr)
    sys.stderr.flush()
    os.dup2(log, 2)
    os.close(log)
    if kernel_start:
        show_native_log_on_error(path)
    return path


_WATCHED: set[tuple[int, Path]] = set()


def show_native_log_on_error(path: Path, shell=None) -> bool:
    """In IPython, print what the native log gained during a cell that failed.

    Registers two event callbacks on ``shell`` (by default the running IPython;
    nothing happens outside one): before each cell it notes the log's size, and
    after a cell that raised it prints the new lines that are not harmless, so
    an error from TensorFlow's C++ core is seen next to the Python error.
    Returns whether the callbacks were registered.
    """
    if shell is None:
        shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is None or not hasattr(shell, "events"):
        return False
    if (id(shell), path) in _WATCHED:  # a second Setup run: the callbacks are there
        return True
    _WATCHED.add((id(shell), path))
    size = {"before": 0}

    def before(*_args) -> None:
        size["before"] = path.stat().st_size if path.exists() else 0

    def after(result) -> None:
        if getattr(result, "error_in_exec", None) is None or not path.exists():
            return
        with path.open("rb") as log:
            log.seek(size["before"])
            news = native_log_news(log.read().decode(errors="replace"))
        if news:
            print(f"TensorFlow's native log ({path}) during this cell:\n  "
                  + "\n  ".join(news), file=sys.stderr)

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)
    return True


@contextlib.contextmanager
def native_logs_to_file(path: str | Path | None = None):
    """For command-line tools: :func:`send_native_logs_to` while the block runs, then back.

    TensorFlow's start-up lines go to the log file, appended to what is there;
    the tool's own messages, printed after the block, reach the terminal as usual.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        yield send_native_logs_to(path, kernel_start=False)
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def format_duration(seconds: float) -> str:
    """A duration the way the series prints it.

    >>> format_duration(42.4), format_duration(161), format_duration(9000)
    ('42 s', '2.7 min', '2.5 h')
    """
    if seconds < 100:
        return f"{seconds:.0f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def format_size(size: float) -> str:
    """A number of bytes the way the series prints it.

    >>> format_size(512), format_size(3_400_000), format_size(1.6e9)
    ('512 bytes', '3.4 MB', '1.6 GB')
    """
    if size < 1000:
        return f"{size:.0f} bytes"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            return f"{size:.1f} {unit}"
    raise AssertionError("unreachable")


def took(started: float, now: float | None = None) -> str:
    """The last line of every notebook: how long it ran, and on what (every notebook).

    ``started`` is the ``time.monotonic()`` that the Setup cell records as
    ``STARTED``. The README's time table was measured on one machine; this line
    is this run's own.
    """
    import time

    elapsed = (time.monotonic() if now is None else now) - started
    machine = f"{os.cpu_count() or '?'} CPU cores, {platform.system()} {platform.machine()}"
    return f"This notebook took {format_duration(elapsed)} from the Setup cell on ({machine})."


def gpu_names() -> list[str]:
    """The GPUs TensorFlow sees, by name (empty on a CPU-only machine)."""
    import tensorflow as tf

    return [gpu.name for gpu in tf.config.list_physical_devices("GPU")]


def keras_models_dir() -> Path:
    """Where Keras keeps the weights it downloads: ``$KERAS_HOME/models`` or ``~/.keras/models``."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def in_colab() -> bool:
    """True inside Google Colab (a fresh VM per notebook, a GPU, internet)."""
    return "google.colab" in sys.modules


def in_kaggle() -> bool:
    """True inside a Kaggle notebook (datasets are mounted under ``/kaggle/input``)."""
    return "KAGGLE_KERNEL_RUN_TYPE" in os.environ or Path("/kaggle/input").is_dir()


def backed_up_epochs(folder: str | Path) -> int:
    """How many epochs ``keras.callbacks.BackupAndRestore`` has saved in ``folder`` (0: none).

    A resumed ``fit`` goes on after them (notebook 05); what a run recorded of
    later epochs (an interruption between its own record and the backup) is
    to be dropped, as those epochs are trained again. Keras keeps the count in
    ``training_metadata.json``.
    """
    path = Path(folder) / "training_metadata.json"
    return int(json.loads(path.read_text())["epoch"]) if path.exists() else 0
