"""runtime.write_atomically: whole files, even with several writers at once (notebook 00)."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from helpers.runtime import write_atomically


def test_concurrent_writers_of_one_file_each_write_a_whole_file(tmp_path):
    """Two notebooks writing one run folder at once (bug 9): no error, no half file, no debris."""
    path = tmp_path / "run" / "info.json"

    def write(i: int) -> None:
        write_atomically(path, json.dumps({"writer": i, "padding": "x" * 20_000}))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(write, range(200)))
    assert json.loads(path.read_text())["writer"] in range(200)
    assert [p.name for p in path.parent.iterdir()] == ["info.json"]


def test_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "notes.txt"
    write_atomically(path, "one")
    path.chmod(0o640)
    write_atomically(path, "two")
    assert path.read_text() == "two" and path.stat().st_mode & 0o777 == 0o640
