"""The suite's time budget rests on `--dist loadgroup`: tests that share an expensive module
fixture (the demo run, the console's server, the PII recognizers) are sent to one worker, so
the fixture is built once. pytest 9.2 silently broke the grouping (pytest-xdist#1386: the
demo was built twice, six minutes each); this runs a two-worker session on a tiny suite and
checks that a group stays on one worker."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

GROUPED = '''
import pytest
pytestmark = pytest.mark.xdist_group("shared")
def test_a(): pass
def test_b(): pass
def test_c(): pass
def test_d(): pass
'''
OTHER = "def test_x(): pass\ndef test_y(): pass\n"


def test_a_group_runs_on_one_worker(tmp_path: Path) -> None:
    (tmp_path / "test_grouped.py").write_text(GROUPED)
    (tmp_path / "test_other.py").write_text(OTHER)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # not the project's addopts
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v",
                           "-n", "2", "--dist", "loadgroup", str(tmp_path)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:]
    workers = set(re.findall(r"\[(gw\d+)\] \[ *\d+%\] PASSED test_grouped\.py", proc.stdout))
    ran = re.findall(r"PASSED test_grouped\.py::test_\w", proc.stdout)
    assert len(ran) == 4, proc.stdout[-3000:]
    assert len(workers) == 1, f"group split over {sorted(workers)}:\n{proc.stdout[-3000:]}"
