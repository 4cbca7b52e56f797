"""A ClientApp process starts for every Flower message; SecAgg+ sends four per round and only
one trains. The app must load without torch, so the other stages start in about half the time
(a slow start under load costs the process its task token)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_the_client_app_loads_without_torch() -> None:
    code = ("import sys; import federation.brand.client_app as c; "
            "assert c.app is not None; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip()
    assert out == "False"
