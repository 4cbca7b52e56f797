from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import create_engine
from typer.testing import CliRunner

from api.cli import app
from federation.data.synthetic import generate_alliance
from privacy.anonymize import EncryptOperator, apply, make_operator
from privacy.detection.analyzer import PiiScanner
from privacy.detection.table import classify_columns, read_table

pytestmark = pytest.mark.xdist_group("pii-table")

@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return generate_alliance(seed=5, scale=0.1)[0].customers


@pytest.mark.unit
def test_columns_are_classified(customers: pd.DataFrame) -> None:
    got = {c.column: c.pii_type for c in classify_columns(customers, PiiScanner(), sample=60)}
    assert got["phone"] == "PHONE_NUMBER" and got["email"] == "EMAIL_ADDRESS"
    assert got["resident_id"] == "CN_RESIDENT_ID" and got["address"] == "ADDRESS"
    assert got["name"] == "PERSON" and got["bank_card"] == "BANK_CARD"
    assert got["gender"] is None and got["signup_date"] is None and got["city"] is None


@pytest.mark.integration
def test_sql_table_and_parquet_are_read(customers: pd.DataFrame, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    engine = create_engine(url)
    customers.to_sql("customers", engine, index=False)
    engine.dispose()
    assert len(read_table(url=url, table="customers")) == len(customers)
    customers.to_parquet(tmp_path / "c.parquet")
    assert list(read_table(tmp_path / "c.parquet").columns) == list(customers.columns)
    from compliance.errors import InputError

    with pytest.raises(InputError, match="table 'nope' not found"):
        read_table(url=url, table="nope")


@pytest.mark.unit
def test_operators() -> None:
    text = "客户王小明，手机13812345678"
    fs = PiiScanner().scan(text)
    key = bytes(range(32))
    masked = apply(text, fs, make_operator("mask"))
    assert "13812345678" not in masked and "王小明" not in masked
    assert apply(text, fs, make_operator("redact")) == "客户<PERSON>，手机<PHONE_NUMBER>"
    p1 = apply(text, fs, make_operator("pseudonym", brand_id="a", key=key))
    assert p1 == apply(text, fs, make_operator("pseudonym", brand_id="a", key=key))
    assert p1 != apply(text, fs, make_operator("pseudonym", brand_id="b", key=key))
    enc = make_operator("encrypt", brand_id="a", key=key)
    assert isinstance(enc, EncryptOperator)
    token = enc("13812345678", fs[1])
    assert enc.decrypt(token, "PHONE_NUMBER") == "13812345678"
    with pytest.raises(InvalidTag):
        enc.decrypt(token, "PERSON")  # the type is bound as associated data


@pytest.mark.integration
def test_cli_scan_contract_and_bad_input(tmp_path: Path) -> None:
    inp, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inp.write_text('{"id": "r1", "text": "邮箱a.b@qq.com"}\n{"id": 7, "text": "nothing"}\n',
                   encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(app, ["pii", "scan", "--input", str(inp), "--output", str(out)])
    assert res.exit_code == 0, res.output
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert rows == [{"id": "r1", "entities": [{"type": "EMAIL_ADDRESS", "start": 2, "end": 12,
                                               "score": 0.95}]},
                    {"id": 7, "entities": []}]
    before = out.read_bytes()
    inp.write_text('{"id": "r1", "text": "x"}\n{"id": "r2"}\n', encoding="utf-8")
    res = runner.invoke(app, ["pii", "scan", "--input", str(inp), "--output", str(out)])
    assert res.exit_code == 2 and "in.jsonl:2" in res.output and "'text'" in res.output
    assert out.read_bytes() == before
