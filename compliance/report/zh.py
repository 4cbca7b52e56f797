"""The report's Chinese for text that policies/ holds in English: purpose descriptions,
lawful bases and law references. Pure: a glossary (zh.yaml beside this file) for names and
glosses, and rules for article numbers, written the way Chinese legal texts cite them
("PIPL Art. 6, Art. 13(1)" -> 《个人信息保护法》第6条、第13条(1)). The bracketed numbers
are kept as the source writes them: the policies do not say whether they mean a paragraph
(款) or an item (项), and a translation must not decide it for them."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import yaml

_NUM = r"\d+(?:\.\d+)?(?:\([0-9a-z]+\))*"
_ITEM = rf"{_NUM}(?:-\d+(?:\.\d+)?)?"
_ARTICLES = re.compile(rf"Art\. ({_ITEM}(?:, (?:Art\. )?{_ITEM})*)")
_RECITAL = re.compile(r"Recital (\d+)")
_CCR = re.compile(rf"(\d+) CCR ({_ITEM})")
_SECTIONS = re.compile(rf"(》) ?({_NUM}(?:, {_NUM})*)")
_SECTION_SIGN = re.compile(r"§(\d+(?:\.\d+)*)")

LAWFUL_BASES = {"consent": "同意", "contract": "订立、履行合同所必需",
                "legal_obligation": "履行法定职责或法定义务", "legitimate_interest": "正当利益"}


@cache
def _glossary() -> dict[str, dict[str, str]]:
    data = yaml.safe_load((Path(__file__).with_name("zh.yaml")).read_text(encoding="utf-8"))
    return {k: dict(v) for k, v in data.items()}


def _cite(item: str) -> str:
    """'47(1)(3)' -> 第47条(1)(3); '38-39' -> 第38–39条."""
    head, paren, rest = item.partition("(")
    return "第" + head.replace("-", "–") + "条" + paren + rest


def _articles(m: re.Match[str]) -> str:
    items = [i.removeprefix("Art. ") for i in m.group(1).split(", ")]
    return "、".join(_cite(i) for i in items)


def law_zh(text: str) -> str:
    """A law reference in Chinese; phrases the glossary lacks stay as they are."""
    g = _glossary()
    out = text
    for table in ("laws", "phrases"):
        for en in sorted(g[table], key=len, reverse=True):
            out = out.replace(en, g[table][en])
    out = _ARTICLES.sub(_articles, out)
    out = _RECITAL.sub(r"序言第\1条", out)
    out = _CCR.sub(lambda m: f"《加州法规汇编》第{m.group(1)}编{_cite(m.group(2))}", out)
    out = _SECTIONS.sub(lambda m: m.group(1) + "、".join(_cite(s) for s in
                                                       m.group(2).split(", ")), out)
    out = _SECTION_SIGN.sub(r"第\1条", out)
    out = re.sub(r"\s*;\s*", ";", out)
    out = re.sub(r" ?\(([^()]*[\u4e00-\u9fff][^()]*)\)", r"(\1)", out)
    return re.sub(r"(?<=[\u4e00-\u9fff》)]) (?=[\u4e00-\u9fff《(第])", "", out)


def purpose_zh(key: str, english: str) -> str:
    """The purpose's description in Chinese, or the English one when the glossary lacks it."""
    return _glossary()["purposes"].get(key, english)


def basis_zh(basis: str) -> str:
    """A lawful basis (PIPL Art. 13's grounds; GDPR Art. 6(1)) in Chinese."""
    return LAWFUL_BASES.get(basis, basis)
