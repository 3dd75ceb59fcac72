"""Another revision's code beside today's, for benches that print before and after in one run."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def revision_tree(revision: str) -> Iterator[Path]:
    """A temporary tree holding `backend/` as it was at `revision` and today's `bench/`: run a
    bench there (cwd) to measure that revision's code with today's measure."""
    archive = subprocess.run(["git", "archive", revision, "backend"], cwd=ROOT, check=True,
                             capture_output=True).stdout
    with tempfile.TemporaryDirectory() as tree:
        with tarfile.open(fileobj=BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        shutil.copytree(ROOT / "bench", Path(tree) / "bench")
        yield Path(tree)
