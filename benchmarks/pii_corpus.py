"""Builds the labelled PII evaluation corpus (benchmarks/data/pii_corpus.jsonl).

Chinese and English customer-service, order, CRM and form texts with entities at known
offsets, plus hard negatives that must stay negative: order and tracking numbers, 18-digit
strings with a wrong check digit, card-like numbers failing Luhn, SKUs, versions, amounts.
Seeded; rerun with `python benchmarks/pii_corpus.py` to regenerate identically.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from federation.data.synthetic import (
    CN_GIVEN,
    CN_PLACES,
    CN_SURNAMES,
    EN_FIRST,
    EN_LAST,
    EN_STREETS,
)
from privacy.check_digits import luhn_valid, resident_id_check_digit

OUT = Path(__file__).parent / "data" / "pii_corpus.jsonl"
R = random.Random(20261122)

REGIONS = ["110101", "110105", "120101", "130102", "210102", "310104", "320102", "330102",
           "350203", "370202", "410105", "420106", "430104", "440106", "440304", "500103",
           "510107", "610113", "650102"]
MOBILE = ["133", "135", "136", "138", "139", "147", "150", "152", "157", "158", "166", "173",
          "177", "180", "182", "186", "188", "189", "191", "198", "199"]
AREA = ["010", "021", "022", "023", "020", "0755", "0571", "025", "027", "028", "029", "0512"]
PROV = "京沪粤浙苏川鄂湘鲁豫闽渝津冀"
PLATE_L = "ABCDEFGHJKLMNPQRSTUVWXY"
BINS = ["622202", "622848", "621700", "622588", "621483", "436742", "524091", "625966",
        "400011", "518710"]
EN_CITY = [("Springfield", "IL", "62704"), ("Austin", "TX", "78701"),
           ("Portland", "OR", "97205"), ("Boston", "MA", "02116"), ("Denver", "CO", "80202")]


def cn_name() -> str:
    return R.choice(CN_SURNAMES) + "".join(R.choice(CN_GIVEN) for _ in range(R.choice([1, 2, 2])))


def en_name() -> str:
    return f"{R.choice(EN_FIRST)} {R.choice(EN_LAST)}"


def resident_id(valid: bool = True) -> str:
    born = date(1950, 1, 1) + timedelta(days=R.randint(0, 365 * 60))
    first17 = f"{R.choice(REGIONS)}{born:%Y%m%d}{R.randint(0, 999):03d}"
    check = resident_id_check_digit(first17)
    if not valid:
        check = R.choice([c for c in "0123456789X" if c != check])
    return first17 + (check.lower() if check == "X" and R.random() < 0.2 else check)


def mobile(style: int | None = None) -> str:
    d = R.choice(MOBILE) + "".join(R.choice(string.digits) for _ in range(8))
    style = R.randint(0, 4) if style is None else style
    return [d, f"{d[:3]} {d[3:7]} {d[7:]}", f"{d[:3]}-{d[3:7]}-{d[7:]}", f"+86 {d}",
            f"+86-{d[:3]}-{d[3:7]}-{d[7:]}"][style]


def landline() -> str:
    a = R.choice(AREA)
    n = "".join(R.choice(string.digits[2:]) for _ in range(1)) + "".join(
        R.choice(string.digits) for _ in range(7 if len(a) == 3 else 6))
    return R.choice([f"{a}-{n}", f"({a}){n}", f"{a} {n}"])


def us_phone() -> str:
    a, b, c = R.randint(201, 989), R.randint(200, 999), R.randint(0, 9999)
    return R.choice([f"({a}) {b}-{c:04d}", f"{a}-{b}-{c:04d}", f"+1 {a} {b} {c:04d}",
                     f"{a}.{b}.{c:04d}"])


def card(valid: bool = True) -> str:
    body = R.choice(BINS) + "".join(R.choice(string.digits) for _ in range(R.choice([9, 12])))
    check = next(d for d in string.digits if luhn_valid(body + d))
    if not valid:
        check = str((int(check) + R.randint(1, 9)) % 10)
    n = body + check
    return R.choice([n, " ".join(n[i:i + 4] for i in range(0, len(n), 4))])


def email(name: str) -> str:
    local = re.sub(r"[^a-z]", "", name.lower()) or "kehu"
    return f"{local}{R.randint(1, 999)}@{R.choice(['qq.com', '163.com', 'gmail.com', 'outlook.com', 'sina.com.cn', 'company.cn', 'mail.example.org'])}"


def passport() -> str:
    return R.choice([f"E{R.randint(10000000, 99999999)}", f"E{R.choice(PLATE_L)}{R.randint(1000000, 9999999)}",
                     f"G{R.randint(10000000, 99999999)}"])


def plate() -> str:
    p, letter = R.choice(PROV), R.choice(PLATE_L)
    tail = R.choice([f"{R.choice(PLATE_L)}{R.randint(1000, 9999)}", f"{R.randint(10000, 99999)}",
                     f"D{R.choice(PLATE_L)}{R.randint(1000, 9999)}", f"{R.randint(10000, 99999)}F",
                     f"{R.randint(100, 999)}{R.choice(PLATE_L)}{R.randint(0, 9)}"])
    return f"{p}{letter}{R.choice(['', '·', ''])}{tail}"


def ip() -> str:
    return R.choice([f"{R.randint(1, 223)}.{R.randint(0, 255)}.{R.randint(0, 255)}.{R.randint(1, 254)}",
                     f"2001:db8:{R.randint(0, 65535):x}::{R.randint(1, 65535):x}"])


def cn_address() -> str:
    _, prov, dist, roads = R.choice(CN_PLACES)
    a = f"{prov}{dist}{R.choice(roads)}{R.randint(1, 999)}号"
    a += R.choice(["", f"{R.randint(1, 30)}栋{R.randint(1, 30)}0{R.randint(1, 9)}室",
                   f"{R.randint(1, 9)}单元{R.randint(100, 2999)}室", f"{R.choice(['阳光', '翠苑', '金色'])}小区{R.randint(1, 20)}号楼"])
    return a


def en_address() -> str:
    city, st, z = R.choice(EN_CITY)
    a = f"{R.randint(10, 9999)} {R.choice(['Oak', 'Maple', 'Elm', 'Lake', 'Hill', 'Sunset', 'Washington'])} {R.choice(EN_STREETS)}"
    a += R.choice(["", f", Apt {R.randint(1, 40)}", f", Suite {R.randint(100, 900)}"])
    return a + R.choice(["", f", {city}, {st} {z}"])


def order_no() -> str:
    return R.choice([f"{R.randint(2024, 2026)}{R.randint(1, 12):02d}{R.randint(1, 28):02d}{R.randint(10 ** 7, 10 ** 8 - 1)}",
                     f"DD{R.randint(10 ** 13, 10 ** 14 - 1)}", f"SF{R.randint(10 ** 11, 10 ** 12 - 1)}",
                     f"YT{R.randint(10 ** 12, 10 ** 13 - 1)}", f"{R.randint(10 ** 11, 10 ** 12 - 1)}"])


def sku() -> str:
    return R.choice([f"SKU-{R.randint(1000, 99999)}", f"E{R.randint(10000000, 99999999)}",
                     f"A{R.randint(100, 999)}-{R.choice(PLATE_L)}{R.randint(10, 99)}", f"G{R.randint(10000000, 99999999)}"])


def version() -> str:
    return f"{R.randint(1, 12)}.{R.randint(0, 20)}.{R.randint(0, 50)}.{R.randint(0, 300)}"


def amount() -> str:
    return R.choice([f"¥{R.randint(10, 99999):,}.{R.randint(0, 99):02d}", f"{R.randint(10, 99999)}元",
                     f"${R.randint(5, 9999):,}.{R.randint(0, 99):02d}", f"RMB {R.randint(100, 999999)}"])


ZH = [
    "客户{PERSON}的手机号是{PHONE}，请尽快回访。",
    "收件人：{PERSON}，电话：{PHONE}，地址：{ADDRESS}",
    "{PERSON}女士反映订单{ORDER}迟迟未发货，联系电话{PHONE}。",
    "会员{PERSON}（身份证号{ID}）申请开通储值卡。",
    "请把发票寄到{ADDRESS}，联系人{PERSON}。",
    "持卡人{PERSON}，卡号{CARD}，已完成绑定。",
    "用户在{TIME}从IP {IP}登录，账号邮箱为{EMAIL}。",
    "{PERSON}先生的车牌号是{PLATE}，停车场入场时间{TIME}。",
    "出境游报名信息：姓名{PERSON}，护照号码{PASSPORT}，手机{PHONE}。",
    "我叫{PERSON}，住在{ADDRESS}，邮箱{EMAIL}。",
    "您好，我的订单号是{ORDER}，运单号{ORDER}，金额{AMOUNT}。",
    "商品{SKU}已补货，价格{AMOUNT}，请通知老客户。",
    "APP版本{VERSION}修复了支付问题，订单号{ORDER}。",
    "退款到银行卡{CARD}，请核对，客户{PERSON}。",
    "座机{LANDLINE}无人接听，改拨手机{PHONE}。",
    "门店地址：{ADDRESS}，营业电话{LANDLINE}。",
    "身份证{ID}与姓名{PERSON}不一致，请重新上传。",
    "快递员电话{PHONE}，包裹送至{ADDRESS}。",
    "本月销售额{AMOUNT}，同比增长12%，货号{SKU}销量第一。",
    "联系人：{PERSON}；邮箱：{EMAIL}；电话：{LANDLINE}",
    "系统日志：{TIME} 来自 {IP} 的请求被拒绝。",
    "车辆{PLATE}违停，车主{PERSON}已缴纳罚款{AMOUNT}。",
    "{PERSON}和{PERSON}都参加了周末的会员活动。",
    "尊敬的{PERSON}，您的积分即将过期，详询{LANDLINE}。",
]
EN = [
    "Customer {PERSON} called from {PHONE} about order {ORDER}.",
    "Ship to {PERSON}, {ADDRESS}. Contact: {EMAIL}",
    "Please refund card {CARD} for {PERSON}, amount {AMOUNT}.",
    "Dear {PERSON}, your package {ORDER} will arrive tomorrow.",
    "Login from {IP} at {TIME} for account {EMAIL}.",
    "Mr. {SURNAME} asked us to update his phone to {PHONE}.",
    "Passport {PASSPORT} belongs to traveller {PERSON}.",
    "Our store at {ADDRESS} is open daily; call {PHONE}.",
    "Release {VERSION} ships with SKU {SKU} priced at {AMOUNT}.",
    "Name: {PERSON}\nEmail: {EMAIL}\nPhone: {PHONE}",
    "Tracking number {ORDER}; invoice total {AMOUNT}.",
    "{PERSON} and {PERSON} joined the loyalty program last week.",
    "Billing address: {ADDRESS}. Card on file: {CARD}.",
    "Ms. {SURNAME} reported that build {VERSION} crashes on login.",
]
HARD_ONLY = {"ORDER", "SKU", "VERSION", "AMOUNT", "TIME", "BADID", "BADCARD"}
TYPE_OF = {"PERSON": "PERSON", "PHONE": "PHONE_NUMBER", "LANDLINE": "PHONE_NUMBER",
           "ADDRESS": "ADDRESS", "EMAIL": "EMAIL_ADDRESS", "ID": "CN_RESIDENT_ID",
           "CARD": "BANK_CARD", "IP": "IP_ADDRESS", "PLATE": "LICENSE_PLATE",
           "PASSPORT": "PASSPORT", "SURNAME": "PERSON"}


def value(slot: str, zh: bool) -> str:
    return {
        "PERSON": lambda: cn_name() if zh else en_name(),
        "SURNAME": lambda: R.choice(EN_LAST),
        "PHONE": lambda: mobile() if zh else R.choice([us_phone(), mobile(3)]),
        "LANDLINE": landline, "ADDRESS": lambda: cn_address() if zh else en_address(),
        "EMAIL": lambda: email(R.choice(EN_FIRST)), "ID": resident_id, "CARD": card,
        "IP": ip, "PLATE": plate, "PASSPORT": passport, "ORDER": order_no, "SKU": sku,
        "VERSION": version, "AMOUNT": amount,
        "TIME": lambda: f"2026-{R.randint(1, 12):02d}-{R.randint(1, 28):02d} {R.randint(0, 23):02d}:{R.randint(0, 59):02d}",
        "BADID": lambda: resident_id(valid=False), "BADCARD": lambda: card(valid=False),
    }[slot]()


def render(template: str, zh: bool) -> tuple[str, list[dict[str, object]]]:
    text, ents, pos = "", [], 0
    for m in re.finditer(r"\{([A-Z]+)\}", template):
        text += template[pos:m.start()]
        v = value(m.group(1), zh)
        if m.group(1) not in HARD_ONLY:
            ents.append({"type": TYPE_OF[m.group(1)], "start": len(text), "end": len(text) + len(v)})
        text += v
        pos = m.end()
    return text + template[pos:], ents


HARD = [
    "订单号{ORDER}已发货，运单号{ORDER}。", "身份证号{BADID}校验失败，请核对。",
    "卡号{BADCARD}无效。", "货号{SKU}，版本{VERSION}，金额{AMOUNT}。",
    "Order {ORDER} total {AMOUNT}; SKU {SKU}; version {VERSION}.",
    "流水号{ORDER}，退款{AMOUNT}。", "Invalid card {BADCARD} was declined.",
    "型号{SKU}的固件版本为{VERSION}。", "The ID {BADID} failed validation.",
]


# An independent corpus: values from Faker's zh_CN and en_US providers (its own name lists,
# its own ID, phone and card generators), phrasing unlike the templates above, no labels
# before most names. The English PERSON figure here is not independent of the detector (its
# given-name and surname lists come from Faker too); the Chinese one is.
FAKER_ZH = [
    "您好，我是{PERSON}，手机{PHONE}，有事请联系。", "{PERSON}的邮箱是{EMAIL}，麻烦回复一下。",
    "请转账到卡号{CARD}，户名{PERSON}。", "昨天{PERSON}和{PERSON}一起来店里试穿了新款。",
    "登录地址{IP}异常，账号已锁定。", "身份证：{ID}，手机：{PHONE}", "这次活动由{PERSON}负责，有问题找她。",
    "{PERSON}说周三下午到，电话{PHONE}。", "车牌{PLATE}的车主请尽快挪车。",
]
FAKER_EN = [
    "Hi, this is {PERSON}. Reach me on {PHONE} or {EMAIL}.", "Forward the invoice to {PERSON} today.",
    "{PERSON} paid with card {CARD} yesterday.", "Login from {IP} was blocked for {EMAIL}.",
    "Meeting notes: {PERSON} and {PERSON} agreed on the budget.", "Text {PERSON} at {PHONE} when ready.",
]


def independent_corpus(n: int = 1200, seed: int = 7) -> list[dict[str, object]]:
    """Labelled records from Faker (seeded), for a second, independent figure."""
    from faker import Faker

    rnd = random.Random(seed)
    zh, en = Faker("zh_CN"), Faker("en_US")
    zh.seed_instance(seed)
    en.seed_instance(seed)

    def en_phone() -> str:
        while "x" in (p := en.phone_number()):
            pass
        return p

    def zh_plate() -> str:  # Faker also draws I and O, which plates never use (GA 36-2018)
        while set(p := zh.license_plate().replace("-", "")[1:]) & {"I", "O"}:
            pass
        return zh.license_plate()[0] + p

    values = {
        True: {"PERSON": zh.name, "PHONE": zh.phone_number, "EMAIL": zh.email,
               "CARD": zh.credit_card_number, "IP": zh.ipv4, "ID": zh.ssn,
               "PLATE": zh_plate},
        False: {"PERSON": en.name, "PHONE": en_phone, "EMAIL": en.email,
                "CARD": en.credit_card_number, "IP": en.ipv4},
    }
    types = {"PERSON": "PERSON", "PHONE": "PHONE_NUMBER", "EMAIL": "EMAIL_ADDRESS",
             "CARD": "BANK_CARD", "IP": "IP_ADDRESS", "ID": "CN_RESIDENT_ID",
             "PLATE": "LICENSE_PLATE"}
    out: list[dict[str, object]] = []
    for i in range(n):
        is_zh = rnd.random() < 0.6
        template = rnd.choice(FAKER_ZH if is_zh else FAKER_EN)
        text, ents, pos = "", [], 0
        for m in re.finditer(r"\{([A-Z]+)\}", template):
            text += template[pos:m.start()]
            v = values[is_zh][m.group(1)]()
            ents.append({"type": types[m.group(1)], "start": len(text), "end": len(text) + len(v)})
            text += v
            pos = m.end()
        out.append({"id": f"f{i:05d}", "lang": "zh" if is_zh else "en",
                    "text": text + template[pos:], "entities": ents, "hard_negative": False})
    return out


def messy_tables(seed: int = 11) -> list[tuple[list[str], list[list[str]], dict[str, str | None]]]:
    """Labelled tables as exported from shop systems: (header, rows, column -> PII type or
    None). Mixed columns (a contact column holding phones and e-mails), mostly empty columns
    (a bank-card column 8% filled), landlines stored as numbers (leading zero lost), member
    numbers, amounts and postcodes that look like identifiers."""
    rnd = random.Random(seed)
    tables = []
    for t in range(6):
        n = rnd.choice([40, 120, 300])
        header = ["会员编号", "姓名", "手机", "联系方式", "身份证", "备注", "订单金额", "邮编",
                  "银行卡", "车牌", "固话", "IP"]
        labels: dict[str, str | None] = {
            "会员编号": None, "姓名": "PERSON", "手机": "PHONE_NUMBER",
            "联系方式": "PHONE_NUMBER", "身份证": "CN_RESIDENT_ID", "备注": None,
            "订单金额": None, "邮编": None, "银行卡": "BANK_CARD", "车牌": "LICENSE_PLATE",
            "固话": "PHONE_NUMBER", "IP": "IP_ADDRESS"}
        if t % 2:
            header = ["member_id", "name", "mobile", "contact", "id_no", "note", "amount",
                      "zip", "card", "plate", "tel", "ip"]
            labels = dict(zip(header, labels.values(), strict=True))
        rows = []
        for _ in range(n):
            phone = mobile(0)
            contact = phone if rnd.random() < 0.6 else email(R.choice(EN_FIRST))
            landline_lost = str(int(landline().replace("-", "").replace("(", "")
                                    .replace(")", "").replace(" ", "")))
            rows.append([
                str(rnd.randint(10**7, 10**8)), cn_name() if rnd.random() < 0.9 else "",
                phone if rnd.random() < 0.85 else "", contact,
                resident_id() if rnd.random() < 0.7 else "",
                rnd.choice(["", "", "", "", "加急", "VIP", "已回访"]), f"{rnd.uniform(1, 9999):.2f}",
                f"{rnd.randint(100000, 999999)}", card() if rnd.random() < 0.08 else "",
                plate() if rnd.random() < 0.5 else "", landline_lost, ip(),
            ])
        tables.append((header, rows, labels))
    return tables


def records(n: int | None, seed: int | None = None) -> Iterator[dict[str, object]]:
    """`n` generated records (endless for None), from the module's generator or, with
    `seed`, from that seed (the streamed memory run draws fresh values, not repeats)."""
    if seed is not None:
        R.seed(seed)
    i = 0
    while n is None or i < n:
        r = R.random()
        if r < 0.15:
            tpl, zh, hard = R.choice(HARD), None, True
            zh = bool(re.search(r"[\u4e00-\u9fff]", tpl))
        elif r < 0.65:
            tpl, zh, hard = R.choice(ZH), True, False
        else:
            tpl, zh, hard = R.choice(EN), False, False
        text, ents = render(tpl, zh)
        yield {"id": f"c{i:05d}", "lang": "zh" if zh else "en", "text": text,
               "entities": ents, "hard_negative": hard}
        i += 1


def main(n: int = 2400) -> None:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as fh:
        for rec in records(n):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    print(f"wrote {n} records to {OUT}")


if __name__ == "__main__":
    main()
