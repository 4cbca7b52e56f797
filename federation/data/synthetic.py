"""Seeded synthetic brand silos for the demo and tests.

Each brand gets customers with realistic PII (Chinese and English names, mainland
mobiles with valid prefixes, resident IDs with valid MOD 11-2 check digits, e-mails,
addresses), a purchase log with churn behaviour (customers stop buying at a latent
churn time; rates and hazards differ by brand, so partitions are non-IID) and consent
events including refusals, withdrawals and minors under 14 with and without guardian
consent. The data is fake but shaped like the real thing, so it exercises the gate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd

from privacy.check_digits import luhn_valid, resident_id_check_digit

CN_SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤") + ["欧阳", "司马", "诸葛"]
CN_GIVEN = list("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉宇浩然子轩梓涵一诺欣怡俊杰思远雨桐佳琪")
EN_FIRST = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda",
            "David", "Elizabeth", "William", "Barbara", "Richard", "Susan", "Joseph", "Jessica",
            "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy", "Matthew", "Lisa",
            "Anthony", "Emily", "Mark", "Olivia", "Steven", "Sophia", "Andrew", "Grace"]
EN_LAST = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis",
           "Rodriguez", "Martinez", "Wilson", "Anderson", "Taylor", "Thomas", "Moore", "Jackson",
           "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Walker", "Young"]
CN_PLACES = [  # region code, province+city, districts, roads
    ("110101", "北京市", "东城区", ["景山前街", "东长安街", "王府井大街"]),
    ("110108", "北京市", "海淀区", ["中关村大街", "学院路", "知春路"]),
    ("310101", "上海市", "黄浦区", ["南京东路", "淮海中路", "西藏中路"]),
    ("310115", "上海市", "浦东新区", ["世纪大道", "张杨路", "陆家嘴环路"]),
    ("440103", "广东省广州市", "荔湾区", ["中山七路", "龙津西路", "芳村大道"]),
    ("440305", "广东省深圳市", "南山区", ["深南大道", "科技园路", "南海大道"]),
    ("330106", "浙江省杭州市", "西湖区", ["文三路", "天目山路", "西溪路"]),
    ("510104", "四川省成都市", "锦江区", ["春熙路", "红星路", "东大街"]),
]
CN_CITY_EN = {"北京市": "Beijing", "上海市": "Shanghai", "广东省广州市": "Guangzhou",
              "广东省深圳市": "Shenzhen", "浙江省杭州市": "Hangzhou", "四川省成都市": "Chengdu"}
EN_STREETS = ["Main Street", "Oak Avenue", "Maple Drive", "Cedar Lane", "Park Road", "Pine Street"]
EN_CITIES = [("Springfield", "IL"), ("Portland", "OR"), ("Austin", "TX"), ("Madison", "WI")]
MOBILE_PREFIXES = ["130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151",
                   "152", "155", "156", "157", "158", "159", "176", "177", "180", "181", "186",
                   "187", "188", "189", "198", "199"]
PINYIN = {"王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang"}
PURPOSES = ("model_training", "personalized_recommendation", "marketing", "analytics_aggregate",
            "cross_brand_sharing")
UNIONPAY_BINS = ["622202", "622848", "621700", "622588", "621483"]


@dataclass(frozen=True)
class BrandSpec:
    brand_id: str
    name: str
    jurisdiction: str
    customers: int
    share_chinese: float
    n_items: int
    rate_scale: float  # mean purchases per 30 days
    hazard_scale: float  # mean churn hazard per 30 days


DEMO_BRANDS: tuple[BrandSpec, ...] = (
    BrandSpec("lumen-tea", "Lumen Tea House", "pipl", 1400, 0.95, 60, 1.2, 0.06),
    BrandSpec("north-outfitters", "North Outfitters", "pipl", 1100, 0.35, 120, 0.6, 0.09),
    BrandSpec("jade-beauty", "Jade Beauty", "pipl", 900, 0.85, 80, 0.9, 0.05),
)

# Tastes: every customer keeps to one of THEMES themes (item index modulo THEMES), so a
# recommender has something to learn. The first ALLIANCE_ITEMS indices of every brand are
# the alliance's co-branded products, sold by all brands under one id: what makes a shared
# item model worth federating.
THEMES = 4
ALLIANCE_ITEMS = 24

OBS_START = date(2025, 1, 1)
DEFAULT_CUTOFF = date(2026, 6, 1)
DEFAULT_HORIZON_DAYS = 90
AS_OF = datetime(2026, 9, 30, tzinfo=UTC)


@dataclass
class BrandSilo:
    spec: BrandSpec
    customers: pd.DataFrame
    orders: pd.DataFrame
    consents: pd.DataFrame  # customer_id, purpose, action, separate, by_guardian, occurred_at
    minors_with_guardian: set[str] = field(default_factory=set)


def _resident_id(rng: np.random.Generator, region: str, born: date, male: bool) -> str:
    seq = int(rng.integers(0, 500)) * 2 + (1 if male else 0)
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + resident_id_check_digit(first17)


def _mobile(rng: np.random.Generator) -> str:
    digits = MOBILE_PREFIXES[rng.integers(len(MOBILE_PREFIXES))] + "".join(
        str(d) for d in rng.integers(0, 10, 8))
    style = rng.integers(3)
    if style == 0:
        return digits
    if style == 1:
        return f"+86 {digits[:3]} {digits[3:7]} {digits[7:]}"
    return f"{digits[:3]}-{digits[3:7]}-{digits[7:]}"


def _bank_card(rng: np.random.Generator) -> str:
    body = UNIONPAY_BINS[rng.integers(len(UNIONPAY_BINS))] + "".join(
        str(d) for d in rng.integers(0, 10, 12))
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable: one Luhn digit always fits")


def _person(rng: np.random.Generator, chinese: bool, born: date, idx: int) -> dict[str, str]:
    male = bool(rng.integers(2))
    if chinese:
        region, prov, district, roads = CN_PLACES[rng.integers(len(CN_PLACES))]
        surname = CN_SURNAMES[rng.integers(len(CN_SURNAMES))]
        given = "".join(CN_GIVEN[i] for i in rng.integers(0, len(CN_GIVEN), rng.integers(1, 3)))
        name = surname + given
        roman = PINYIN.get(surname, "user")
        address = f"{prov}{district}{roads[rng.integers(len(roads))]}{rng.integers(1, 300)}号"
        if rng.random() < 0.5:
            address += f"{rng.integers(1, 30)}栋{rng.integers(1, 30)}0{rng.integers(1, 9)}室"
        city = CN_CITY_EN[prov]
        phone = _mobile(rng)
        resident_id = _resident_id(rng, region, born, male)
    else:
        first = EN_FIRST[rng.integers(len(EN_FIRST))]
        last = EN_LAST[rng.integers(len(EN_LAST))]
        name = f"{first} {last}"
        roman = f"{first}.{last}".lower()
        c, st = EN_CITIES[rng.integers(len(EN_CITIES))]
        address = (f"{rng.integers(10, 9999)} {EN_STREETS[rng.integers(len(EN_STREETS))]}, "
                   f"{c}, {st} {rng.integers(10000, 99999)}")
        city = c
        phone = f"+1 ({rng.integers(201, 989)}) 555-01{rng.integers(0, 100):02d}"
        resident_id = ""
    domain = ["qq.com", "163.com", "gmail.com", "outlook.com", "126.com"][rng.integers(5)]
    return {"name": name, "phone": phone, "email": f"{roman}{idx}{rng.integers(10, 99)}@{domain}",
            "resident_id": resident_id, "bank_card": _bank_card(rng) if rng.random() < 0.3 else "",
            "address": address, "city": city, "gender": "M" if male else "F"}


def _years_before(d: date, years: float) -> date:
    return d - timedelta(days=int(years * 365.25))


def generate_brand(spec: BrandSpec, seed: int) -> BrandSilo:
    rng = np.random.default_rng([seed, sum(ord(c) * 31**i for i, c in enumerate(spec.brand_id))
                                 % (2**31)])
    n = spec.customers
    obs_end = AS_OF.date()
    span = (obs_end - OBS_START).days
    customers: list[dict[str, object]] = []
    orders: list[dict[str, object]] = []
    consents: list[tuple[object, ...]] = []
    guardians: set[str] = set()
    for i in range(n):
        cid = f"{spec.brand_id[:2].upper()}{i:06d}"
        minor = rng.random() < 0.05
        age = rng.uniform(10, 13.9) if minor else rng.uniform(18, 70)
        born = _years_before(obs_end, age)
        person = _person(rng, rng.random() < spec.share_chinese, born, i)
        signup = OBS_START + timedelta(days=int(rng.integers(0, span - 240)))
        rate = spec.rate_scale * rng.lognormal(0.0, 0.6)  # purchases per 30 days
        loyalty = rng.normal()
        hazard = spec.hazard_scale * np.exp(-0.8 * loyalty)
        churn_day = (signup - OBS_START).days + rng.exponential(30.0 / hazard)
        customers.append({"customer_id": cid, **person, "birth_date": born.isoformat(),
                          "signup_date": signup.isoformat()})
        t = float((signup - OBS_START).days)
        fav = rng.integers(0, spec.n_items, 3)
        theme = int(fav[0]) % THEMES
        while True:
            t += rng.exponential(30.0 / rate)
            if t > min(churn_day, span):
                break
            item = _in_theme(int(fav[rng.integers(3)]) if rng.random() < 0.6 else int(
                rng.integers(spec.n_items)), theme, spec.n_items)
            amount = round(float(rng.lognormal(4.0 + 0.3 * loyalty, 0.5)), 2)
            orders.append({"customer_id": cid, "order_id": f"{cid}-{len(orders):07d}",
                           "ordered_at": (OBS_START + timedelta(days=t)).isoformat(),
                           "item_id": item_id(spec, item), "amount": amount})
        signup_at = datetime.combine(signup, datetime.min.time(), UTC) + timedelta(hours=10)
        guardian = minor and rng.random() < 0.4
        if guardian:
            guardians.add(cid)
        for purpose in PURPOSES:
            p_grant = {"model_training": 0.78, "personalized_recommendation": 0.7,
                       "marketing": 0.5, "analytics_aggregate": 0.82,
                       "cross_brand_sharing": 0.3}[purpose]
            r = rng.random()
            if r < p_grant and minor and not guardian:
                # A child under 14 cannot consent alone (PIPL Art. 31): the CRM records the
                # consent as not given. The draws below keep everyone else's data unchanged.
                consents.append((cid, purpose, "refuse", False, False, signup_at))
                if rng.random() < 0.08:
                    rng.integers(1, max(2, (AS_OF - signup_at).days))
            elif r < p_grant:
                consents.append((cid, purpose, "grant", purpose == "cross_brand_sharing",
                                 guardian, signup_at))
                if rng.random() < 0.08:
                    when = signup_at + timedelta(days=int(rng.integers(1, max(2, (
                        AS_OF - signup_at).days))))
                    consents.append((cid, purpose, "withdraw", False, False, when))
            elif r < p_grant + 0.12:
                consents.append((cid, purpose, "refuse", False, False, signup_at))
    cons = pd.DataFrame(consents, columns=["customer_id", "purpose", "action", "separate",
                                           "by_guardian", "occurred_at"])
    return BrandSilo(spec, pd.DataFrame(customers), pd.DataFrame(orders), cons, guardians)


def _in_theme(item: int, theme: int, n_items: int) -> int:
    """The drawn item moved into the customer's theme, keeping its position otherwise."""
    moved = item - item % THEMES + theme
    return moved if moved < n_items else moved - THEMES


def item_id(spec: BrandSpec, item: int) -> str:
    return f"ally-{item:04d}" if item < ALLIANCE_ITEMS else f"{spec.brand_id[:3]}-{item:04d}"


def alliance_specs(n: int = len(DEMO_BRANDS)) -> tuple[BrandSpec, ...]:
    """`n` brands: the demo's three, then copies of them under new ids (for scale runs)."""
    if n < 1:
        raise ValueError("an alliance needs at least one brand")
    out = list(DEMO_BRANDS[:n])
    for k in range(len(out), n):
        base = DEMO_BRANDS[k % len(DEMO_BRANDS)]
        out.append(BrandSpec(**{**base.__dict__, "brand_id": f"{base.brand_id}-{k}",
                                "name": f"{base.name} {k}"}))
    return tuple(out)


def catalogue(brands: tuple[BrandSpec, ...] = DEMO_BRANDS) -> list[str]:
    """Every item the alliance sells: products are not personal data, so brands publish
    them and the shared item model is indexed by this list."""
    return sorted({item_id(b, i) for b in brands for i in range(b.n_items)})


def generate_alliance(seed: int = 7, brands: tuple[BrandSpec, ...] = DEMO_BRANDS,
                      scale: float = 1.0) -> list[BrandSilo]:
    specs = [BrandSpec(**{**b.__dict__, "customers": max(20, int(b.customers * scale))})
             for b in brands]
    return [generate_brand(s, seed) for s in specs]
