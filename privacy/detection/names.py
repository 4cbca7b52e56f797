"""Person names.

Chinese: jieba's shipped dictionary (word frequencies and POS tags) decides at each surname; a
shipped surname list (Hundred Family Surnames, compound surnames included) and context
words (姓名, 客户, 收件人, 先生, 女士…) confirm them. No model is downloaded.
English: a first-name list followed by a capitalised surname, or a title (Mr/Ms/Dr) or
label (Name:, Dear, customer) followed by capitalised words.
"""

from __future__ import annotations

import logging
import re
import threading

from privacy.detection.entities import CJK, PERSON, Finding

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
          "持卡人", "患者", "学员", "员工", "申请人", "本人", "店长", "经理", "法人", "代表")
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
_SURNAME_AT = re.compile("(?=[" + _SURNAME_FIRST + "])(?=(" + "|".join(sorted(COMPOUND_SURNAMES))
                         + "|[" + "".join(sorted(SINGLE_SURNAMES)) + "])[\u4e00-\u9fff])")


_CJK_ONLY = re.compile("[\u4e00-\u9fff]+")


def _cjk(s: str) -> bool:
    return bool(s) and _CJK_ONLY.fullmatch(s) is not None


class ChineseNameFinder:
    """Dictionary segmentation without running the HMM over whole texts: at each surname,
    jieba's dictionary says whether what follows is a name (tag nr), a common word
    (rejected: 高兴, 黄金, 周末) or unknown given-name characters (a likely name)."""

    name = "zh_person"
    entities = (PERSON,)

    def find(self, text: str) -> list[Finding]:
        if not CJK.search(text):
            return []
        freq, tags = jieba_dictionary()
        out: list[Finding] = []
        taken = -1
        for m in _SURNAME_AT.finditer(text):
            i = m.start()
            if i < taken:
                continue
            best = self._candidate(text, i, m.group(1), freq, tags)
            if best is not None:
                out.append(best)
                taken = best.end
        return out

    @staticmethod
    def _candidate(text: str, i: int, sur: str, freq: dict[str, int], tags: dict[str, str]
                   ) -> Finding | None:
        g = i + len(sur)
        labelled = _labelled(text, i)
        prev = text[i - 1] if i > 0 else ""
        if not labelled and prev and prev not in FUNCTION_CHARS and _cjk(prev) \
                and freq.get(prev + sur[0], 0) > 0:
            return None  # the surname character ends the previous word (共和, 不和)
        if sur in FUNCTION_CHARS and _cjk(prev) and not labelled and \
                text[g:g + 1] in SINGLE_SURNAMES:
            return None  # 王英子和武芬娥: 和 joins two names here
        first = text[g:g + 1]
        if not first or not "\u4e00" <= first <= "\u9fff" or first in NON_NAME_CHARS:
            return None
        for size in (2, 1):
            given = text[g:g + size]
            if len(given) != size or not _cjk(given):
                continue
            cand, end = sur + given, g + size
            if NON_NAME_CHARS.intersection(given) or cand.endswith(PLACE_SUFFIX):
                continue
            honor = text[end:end + 2].startswith(HONORIFICS) or text[end:end + 1] == "总"
            strong = labelled or honor
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


EN_FIRST_NAMES = frozenset("""
james mary robert patricia john jennifer michael linda david elizabeth william barbara richard
susan joseph jessica thomas sarah charles karen christopher lisa daniel nancy matthew betty
anthony sandra mark margaret donald ashley steven kimberly andrew emily paul donna joshua
michelle kenneth carol kevin amanda brian melissa george deborah timothy stephanie ronald
rebecca jason sharon edward laura jeffrey cynthia ryan dorothy jacob amy gary kathleen nicholas
angela eric shirley jonathan emma stephen brenda larry pamela justin nicole scott anna brandon
samantha benjamin katherine samuel christine gregory debra alexander rachel patrick carolyn
frank janet raymond maria jack olivia dennis heather jerry helen tyler catherine aaron diane
jose julie adam victoria henry joyce nathan lauren douglas kelly zachary christina peter ruth
kyle joan noah virginia ethan judith jeremy evelyn walter hannah christian andrea keith megan
roger cheryl terry jacqueline austin madison sean teresa gerald abigail carl sophia harold
martha dylan sara arthur gloria lawrence janice jordan kathryn jesse ann bryan isabella billy
judy bruce charlotte gabriel julia joe grace logan amber alan alice juan jean albert denise
willie frances elijah danielle wayne marilyn randy natalie mason diana vincent beverly liam
brittany roy theresa bobby kayla caleb alexis bradley doris russell lori lucas tiffany oliver
ava mia chloe ella lily zoe leo max owen wei li ming jun hui lei yan xin chen tom tim kate jane
amelia harper aria luna nora riley layla zoey mila aubrey hazel violet aurora savannah liu wang
zhang yang huang zhao wu zhou xu sun ma zhu hu guo lin luo
""".split())  # noqa: SIM905
TITLES = r"(?:Mr|Mrs|Ms|Miss|Dr|Prof|Sir|Madam)\.?"
LABELS_EN = (r"(?:[Nn]ame|[Cc]ustomer|[Cc]lient|[Rr]ecipient|[Cc]ontact|[Dd]ear|[Hh]older|"
             r"[Ss]igned|[Bb]y|[Aa]ttn\.?)")
CAP = r"[A-Z][a-z]+(?:[-'][A-Z][a-z]+)?"


class EnglishNameFinder:
    name = "en_person"
    entities = (PERSON,)
    _full = re.compile(rf"(?=[A-Z])(?<![A-Za-z])({CAP})(?:\s+[A-Z]\.)?\s+({CAP})(?![A-Za-z])")
    _titled = re.compile(rf"(?=[MDPS])(?<![A-Za-z]){TITLES}\s+((?:{CAP}\s+)?{CAP})(?![A-Za-z])")
    _labelled = re.compile(rf"(?=[NnCcRrDdHhSsBbAa])(?<![A-Za-z]){LABELS_EN}\s*[:：,]?\s+"
                           rf"({CAP}(?:\s+{CAP}){{1,2}})(?![A-Za-z])")
    STOP = frozenset({"street", "avenue", "road", "drive", "lane", "the", "and", "order",
                      "customer", "service", "thank", "thanks", "please", "dear", "team"})

    def find(self, text: str) -> list[Finding]:
        out: list[Finding] = []
        for m in self._full.finditer(text):
            first, last = m.group(1), m.group(2)
            if first.lower() in EN_FIRST_NAMES and last.lower() not in self.STOP:
                out.append(Finding(m.start(), m.end(), PERSON, 0.75, self.name))
        for m in self._titled.finditer(text):
            out.append(Finding(m.start(1), m.end(1), PERSON, 0.85, self.name))
        for m in self._labelled.finditer(text):
            parts = m.group(1).split()
            if not any(p.lower() in self.STOP for p in parts):
                out.append(Finding(m.start(1), m.end(1), PERSON, 0.7, self.name))
        return out
