from __future__ import annotations

from pathlib import Path

import pandas as pd

from compliance.database import Database
from compliance.subjects.service import SubjectService
from federation.demo_operations import demo_ab, demo_lookup


def test_demo_lookup_masks_and_reveals_once(db: Database) -> None:
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("acme", "Acme", "pipl", actor="test")
    customers = pd.DataFrame({"cid": ["A1", "A2"], "tel": ["", "13812345678"],
                              "rid": ["", "11010119900307123X"], "nm": ["", "张三"]})
    out = demo_lookup(db, "acme", customers, "cid",
                      {"cid": "customer_id", "tel": "phone", "rid": "resident_id", "nm": "name"},
                      lambda v: f"p-{v}")
    shown = {f["field"]: f["value"] for f in out["staff_view"]["fields"]}
    assert shown == {"phone": "138****5678", "resident_id": "110101********123X",
                     "name": "张*"}
    assert "13812345678" not in str(out)


def test_demo_ab_reads_out_and_refuses_the_small_arm(db: Database, tmp_path: Path) -> None:
    out = demo_ab(db, [f"p{i}" for i in range(700)], tmp_path, seed=1)
    assert [a["arm"] for a in out["readout"]["arms"]] == ["control", "coupon"]
    assert out["small_arm"]["refused"] and "holdout" in out["small_arm"]["reason"]
