"""The wire rules for a PSI round: blinded 32-byte points may leave a brand one per entered
customer (DH-PSI reveals set sizes and nothing else); anything wider or of another dtype in
the PSI record, and per-row arrays in any other record, are still withheld."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, RecordDict

from federation.gate.overlap import PSI_RECORD, PSI_REPLY
from federation.gate.wire import inspect_content

pytestmark = pytest.mark.unit


def _content(record: str, arr: np.ndarray) -> RecordDict:
    return RecordDict({PSI_REPLY: ConfigRecord({"brand-id": "lumen-tea"}),
                       record: ArrayRecord({"points": Array(arr)})})


def test_blinded_points_pass_even_one_per_customer() -> None:
    cap = inspect_content(_content(PSI_RECORD, np.zeros((50, 32), np.uint8)), brand="b",
                          message_type="query.psi", population=[50])
    assert cap.violations == []
    assert [e.kind for e in cap.entries if e.record == PSI_RECORD] == ["blinded-points"]


@pytest.mark.parametrize("arr", [np.zeros((50, 64), np.uint8), np.zeros((50, 32), np.float32),
                                 np.zeros((50,), np.uint8)])
def test_other_shapes_in_the_psi_record_are_withheld(arr: np.ndarray) -> None:
    cap = inspect_content(_content(PSI_RECORD, arr), brand="b", message_type="query.psi",
                          population=[50])
    assert any("blinded points must be" in v for v in cap.violations)


def test_per_row_arrays_outside_the_psi_record_are_still_withheld() -> None:
    cap = inspect_content(_content("arrays", np.zeros((50, 32), np.uint8)), brand="b",
                          message_type="query.psi", population=[50])
    assert any("row count" in v for v in cap.violations)
