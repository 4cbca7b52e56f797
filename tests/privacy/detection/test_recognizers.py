from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from privacy.detection.analyzer import PiiScanner
from privacy.detection.presidio import presidio_engine

pytestmark = [pytest.mark.unit, pytest.mark.xdist_group("pii-recognizers")]
CORPUS = Path(__file__).parents[3] / "benchmarks" / "data" / "pii_corpus.jsonl"


@pytest.fixture(scope="module")
def scanner() -> PiiScanner:
    return PiiScanner()


def found(scanner: PiiScanner, text: str) -> set[tuple[str, str]]:
    return {(f.type, text[f.start:f.end]) for f in scanner.scan(text)}


@pytest.mark.parametrize("text,expected", [
    ("身份证号11010519491231002X已登记", ("CN_RESIDENT_ID", "11010519491231002X")),
    ("证件：110105 19491231 002x", ("CN_RESIDENT_ID", "110105 19491231 002x")),
    ("手机+86 138-1234-5678联系", ("PHONE_NUMBER", "+86 138-1234-5678")),
    ("电话(0755)86543210转", ("PHONE_NUMBER", "(0755)86543210")),
    ("座机010-62345678", ("PHONE_NUMBER", "010-62345678")),
    ("London office +44 20 7946 0958.", ("PHONE_NUMBER", "+44 20 7946 0958")),
    ("call (415) 555-0132 today", ("PHONE_NUMBER", "(415) 555-0132")),
    ("银联卡6222021234567890128到账", ("BANK_CARD", "6222021234567890128")),
    ("card 4111 1111 1111 1111 expired", ("BANK_CARD", "4111 1111 1111 1111")),
    ("邮箱wang.fang@sina.com.cn。", ("EMAIL_ADDRESS", "wang.fang@sina.com.cn")),
    ("登录IP 203.0.113.7 异常", ("IP_ADDRESS", "203.0.113.7")),
    ("from 2001:db8::8a2e:370:7334 at noon", ("IP_ADDRESS", "2001:db8::8a2e:370:7334")),
    ("护照号码EH1234567", ("PASSPORT", "EH1234567")),
    ("护照G12345678", ("PASSPORT", "G12345678")),
    ("车牌京A·12345违停", ("LICENSE_PLATE", "京A·12345")),
    ("新能源车牌粤BD12345", ("LICENSE_PLATE", "粤BD12345")),
    ("收件人：欧阳娜娜", ("PERSON", "欧阳娜娜")),
    ("请联系李娜女士", ("PERSON", "李娜")),
    ("Dear Emily Johnson, thanks", ("PERSON", "Emily Johnson")),
    ("送到广东省深圳市南山区科技园路1号2栋301室",
     ("ADDRESS", "广东省深圳市南山区科技园路1号2栋301室")),
    ("寄到杭州市西湖区文三路90号，谢谢", ("ADDRESS", "杭州市西湖区文三路90号")),
    ("Ship to 1600 Amphitheatre Parkway, Mountain View, CA 94043.",
     ("ADDRESS", "1600 Amphitheatre Parkway, Mountain View, CA 94043")),
])
def test_positives(scanner: PiiScanner, text: str, expected: tuple[str, str]) -> None:
    assert expected in found(scanner, text)


@pytest.mark.parametrize("text", [
    "订单号2026112212345678已发货",
    "运单号SF1234567890123，快递单号YT9876543210987",
    "身份证号110105194912310021校验失败",  # wrong check digit
    "证件号110105194913310028",  # month 13
    "卡号4111111111111112无效",  # fails Luhn
    "商品E12345678已补货，货号G87654321",
    "固件版本 2.3.1.10 已发布，version 10.0.0.1",
    "金额¥1,299.00，共计12999元，RMB 100000",
    "高兴的周末，黄金价格上涨，马上就到",
    "Order 1234567890123 shipped; SKU A123-B45; release 4.2.0.7",
])
def test_hard_negatives_stay_negative(scanner: PiiScanner, text: str) -> None:
    assert found(scanner, text) == set()


def test_email_detection_never_touches_the_network(scanner: PiiScanner,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert ("EMAIL_ADDRESS", "li.lei@corp.example.co.uk") in found(
        scanner, "mail li.lei@corp.example.co.uk")
    engine = presidio_engine()
    assert engine.analyze("mail li.lei@corp.example.co.uk", language="en")


def test_batch_scan_equals_one_at_a_time(scanner: PiiScanner) -> None:
    texts = [json.loads(line)["text"] for line in CORPUS.read_text("utf-8").splitlines()[:400]]
    texts += ["", "\x00 odd NUL 13812345678", "末尾是名字张伟"]
    assert scanner.scan_many(texts) == [scanner.scan(t) for t in texts]


def test_corpus_quality_floor(scanner: PiiScanner) -> None:
    """The shipped corpus: micro-F1 >= 0.97 and no hard negative flagged (the benchmark
    prints per-type figures; this guards against regressions)."""
    tp = fp = fn = 0
    for line in CORPUS.read_text("utf-8").splitlines():
        rec = json.loads(line)
        gold = {(e["type"], e["start"], e["end"]) for e in rec["entities"]}
        got = {(f.type, f.start, f.end) for f in scanner.scan(rec["text"])}
        tp, fp, fn = tp + len(gold & got), fp + len(got - gold), fn + len(gold - got)
        if rec["hard_negative"]:
            assert not got, rec["id"]
    f1 = 2 * tp / (2 * tp + fp + fn)
    assert f1 >= 0.97
