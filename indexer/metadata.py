"""Document metadata taken from the text: title, issuing body, region, year, type, script."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from functools import lru_cache

from core.textform import script_of, to_simplified
from .regions import gazetteer, leading_region
from .structure import heading_level

TITLE_WORDS = re.compile(r"报告|要点|计划|方案|意见|办法|条例|规定|通知|决定|细则|规则|法$|纲要|总结|情况")
BODY = re.compile(
    r"((?:[\u4e00-\u9fff]{2,8}?(?:省|市|县|区|自治区))?[\u4e00-\u9fff]{0,12}?"
    r"(?:人民政府|工业和信息化局|工业和信息化厅|司法局|司法厅|政务服务数据管理局|[\u4e00-\u9fff]{1,10}(?:局|厅|委员会|办公室)"
    r"|国务院|人民代表大会))"
)
# Where a body's name is read, and only there: a title that starts with it (广州市工业和信息化局2019年度…,
# 广州市人民政府关于…), an enactment line (…上海市第十三届人民代表大会常务委员会第三十次会议通过), the opening
# sentence's subject (2024年，江门市工业和信息化局坚持…), or a line that is the name alone (a letterhead or the
# signature). Searched anywhere in the first 600 characters, the pattern took 总体布局 or 开局 as the body of 44 of
# the 88 work reports, 县级以上地方人民政府 or 直辖市人民政府 from an article for 289 of 1,500 sampled cn-laws, and
# 采金融监督管理委员会 or 以原寄邮局 for 229 of 800 tw-laws (whose texts name no issuer): all now unknown, and the
# bodies still read are the enacting congresses and courts (e.g. 山东省人民代表大会常务委员会).
TITLE_BODY = re.compile(BODY.pattern + r"(?=(?:19|20)\d\d|关于|印发|转发|第[一二三四五六七八九十百\d]+次|[（(]|$)")
# A report, plan or resolution is written by the body its title starts with (after the year it covers):
# 2025年中华人民共和国国务院政府工作报告. A law's title names what it governs: 交通部臺灣鐵路管理局組織條例.
AUTHORED = re.compile(r"(?:报告|要点|计划|总结|方案|决议|意见|通知)$")
AUTHOR_TITLE = re.compile(r"(?:(?:19|20)\d\d\s*年度?)?" + BODY.pattern)
ENACTED_BY = re.compile(r"(?:^|(?<=[\s日（(]))" + BODY.pattern
                        + r"(?=第[一二三四五六七八九十百零〇\d]+次|(?:全体)?会议|(?:审议)?通过|公布|发布|印发)", re.M)
OPENING_BODY = re.compile(r"\s*(?:(?:19|20)\d\d\s*年(?:度|以来)?\s*[，,]?\s*)?" + BODY.pattern)
LINE_BODY = re.compile(r"\s*" + BODY.pattern + r"\s*(?:(?:19|20)\d\d\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*日)?\s*")
# A body names who it is: a region the gazetteer knows at its start, or a national organ.
NATIONAL = re.compile(r"(?:国家|国务院|中华人民共和国|全国|最高人民|中央|中共|中国|第[一二三四五六七八九十]+届全国|"
                      r"行政院|立法院|司法院|考试院|监察院|"
                      r"(?!干部|全部|内部|外部|局部|本部|总部|支部|有关部|相关部|[东西南北中]部)[\u4e00-\u9fff]{1,9}?部(?!门|分|队))")
# A national organ of the PRC covers the whole country: its region is 全国 (as legal databases file 中央法规 apart
# from 地方法规), unless its name places it (国家税务总局广州市税务局). Taiwan's 行政院 or 立法院 are not in it.
NATIONWIDE = re.compile(r"(?:中华人民共和国|国务院|全国人民代表大会|全国人大|最高人民(?:法院|检察院)|中共中央|中国共产党中央|国家)")
PLACED = re.compile(r"[\u4e00-\u9fff]{2,7}(?:省|自治区)")
NATIONAL_REGION = "全国"
# A note after a title (2025年政府工作报告（摘要）, …计划（草案）) does not change who wrote it.
TITLE_NOTE = re.compile(r"\s*[（(](?:摘要|草案|节选|全文|修订稿|征求意见稿|送审稿)[）)]\s*$")
SENTENCE = re.compile(r"[，,。；;]")
# A congress's term (第十三届) is not part of the body: 山东省第十二届 and 第十三届人民代表大会常务委员会 are one
# body to a user choosing a facet, as legal databases list them (制定机关).
TERM = re.compile(r"第[一二三四五六七八九十百]+届")
NOT_AN_ORGAN = re.compile(r"(?:布局|开局|格局|大局|时局|全局|结局|僵局|政治局|当局)$")
LOCAL_VOICE = re.compile(r"我(?:局|委|厅|办|市)|本(?:局|委|厅)")
TEXT_CITY_MIN = 3  # a city the text names at least this often, and more than twice as often as any other
# A report delivered on a body's behalf names it: 现在，我代表第十八届中央委员会向大会作报告 / 我受十二届中央委员会
# 委托，向大会作报告 / 我代表国务院，向大会报告政府工作 / 我代表中央委员会作关于…的工作报告. Of the work reports, 11
# party-congress reports named their author only so (they had no body, region or year).
SPEAKER = re.compile(r"我(?:受|代表)\s*" + BODY.pattern + r"\s*(?:委托)?\s*[，,]?\s*(?:向|作)")
ANY_TERM = re.compile(r"第?[一二三四五六七八九十百]+届")
PARTY = re.compile(r"中国共产党|^中共")
YEAR = re.compile(r"(19[5-9]\d|20[0-4]\d)\s*年?度?")
# The year a report covers, most telling phrasing first.
COVERED_YEAR = [
    re.compile(r"(19[5-9]\d|20[0-4]\d)\s*年度?(?:[^，,。]{0,6})(?:法治|依法行政|工作)"),
    re.compile(r"(?:^|\n)\s*(19[5-9]\d|20[0-4]\d)\s*年"),
]


# When the national congresses met (calendar facts, not fitted: the NPC's and the CPC's own records). The NPC met
# once a year from its 5th term; before that its sessions were irregular (none in 1961, one each for the 3rd and
# 4th terms).
# Only a title that is the session's own document (it starts with the session, or was delivered at it: 在…上),
# not one that names a session as its topic (纪念…召开, 关于…代表名额的决定).
NPC_SESSION = re.compile(r"(?:^|在)第([一二三四五六七八九十]+)届全国人民代表大会第([一二三四五六七八九十]+)次会议")
NPC_SESSIONS = {1: (1954, 1955, 1956, 1957, 1958), 2: (1959, 1960, 1962, 1963), 3: (1964,), 4: (1975,)}
NPC_FIRST_SESSION = {5: 1978, 6: 1983, 7: 1988, 8: 1993, 9: 1998, 10: 2003, 11: 2008, 12: 2013, 13: 2018, 14: 2023}
# 在中国共产党第九次全国代表大会上的报告, or a title tagged at its end: 沿着有中国特色的社会主义道路前进 (十三大)
# (a later session of one congress, 八大二次会议 in 1958, is no congress year: not taken)
CPC_CONGRESS = re.compile(r"(?:^|在)中国共产党第([一二三四五六七八九十]+)次全国代表大会(?!第[一二三四五六七八九十]+次会议)"
                          r"|[（(]([一二三四五六七八九十]+)大[）)]\s*$", re.M)
CPC_CONGRESSES = {1: 1921, 2: 1922, 3: 1923, 4: 1925, 5: 1927, 6: 1928, 7: 1945, 8: 1956, 9: 1969, 10: 1973, 11: 1977,
                  12: 1982, 13: 1987, 14: 1992, 15: 1997, 16: 2002, 17: 2007, 18: 2012, 19: 2017, 20: 2022}


@dataclass
class DocumentMeta:
    """Metadata of one document; an empty string means 'not known', never a guess."""

    title: str = ""
    issuing_body: str = ""
    region: str = ""
    year: str = ""
    doc_type: str = ""  # 年度报告 | 工作要点 | 法规 | 其他
    script: str = ""  # simplified | traditional | mixed
    published: str = ""  # YYYY-MM-DD when the page or the signature states it

    def to_json(self) -> dict:
        """Plain dict for SQLite and the API."""
        return asdict(self)

    def merged(self, overrides: dict) -> "DocumentMeta":
        """A copy with the known fields of `overrides` (sidecar or JSONL meta) taking precedence."""
        names = {f.name for f in fields(self)}
        aliases = {"body": "issuing_body", "type": "doc_type"}
        values = self.to_json()
        for key, value in (overrides or {}).items():
            key = aliases.get(key, key)
            if key in names and value not in (None, ""):
                values[key] = str(value)
        return DocumentMeta(**values)


PUBLISHED_LABELED = re.compile(
    r"(?:发布|發布|发文|成文|印发|印發)?(?:时间|時間|日期)\s*[:：]\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})"
)
SIGNATURE_DATE = re.compile(r"^\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*$", re.M)
# a speech's date under its title: ——在中国共产党第十九次全国代表大会上的报告 / （2017年10月18日）
HEAD_DATE = re.compile(r"^\s*[（(]\s*(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日\s*[）)]\s*$", re.M)


def published_date(raw_text: str, clean: str) -> str:
    """The publishing date from the page's own label (发布时间: …), a date line under the title, or the signature's
    date line."""
    m = PUBLISHED_LABELED.search(raw_text[:3000])
    if m is None:
        dates = list(SIGNATURE_DATE.finditer(clean[-400:]))
        m = dates[-1] if dates else HEAD_DATE.search(clean[:600])
    if m is None:
        return ""
    year, month, day = (int(g) for g in m.groups())
    if not (1949 <= year <= 2100 and 1 <= month <= 12 and 1 <= day <= 31):
        return ""
    return f"{year:04d}-{month:02d}-{day:02d}"


def guess_title(text: str) -> str:
    """The first short line before the body that reads like a document title."""
    for line in text.split("\n")[:8]:
        line = line.strip().lstrip("#").strip()
        if (
            6 <= len(line) <= 80 and "。" not in line and heading_level(line) is None
            and TITLE_WORDS.search(to_simplified(line))
        ):
            return line
    return ""


def extract_metadata(text: str, given_title: str = "", raw_text: str = "") -> DocumentMeta:
    """Everything that can be read off the cleaned (and raw) text; unknown fields stay empty."""
    title = given_title or guess_title(text)
    simplified = to_simplified(text)
    title_s = to_simplified(title)
    head = to_simplified(title + "\n" + text[:600])
    tail = simplified[-300:]

    body = issuing_body(title_s, head, tail)
    region = leading_region(body) or leading_region(title_s)
    if not region and body:  # 国家税务总局广州市税务局: a national system's office, placed by the city it names
        placed = text_city_pattern().search(body)
        region = gazetteer().regions[placed.group(0)] if placed else NATIONAL_REGION if nationwide(body) else ""
    if not region:
        region = region_from_text(simplified)

    year = ""
    for pattern, source in [(YEAR, title_s)] + [(p, head) for p in COVERED_YEAR]:
        m = pattern.search(source)
        if m:
            year = m.group(1)
            break
    # a congress's session in the title dates the document better than a year its text looks back to
    # (第二届全国人民代表大会第三次会议…的决议 is 1962, though its text opens with 1958年以来)
    year = (session_year(title_s) if not YEAR.search(title_s) else "") or year

    if re.search(r"^第\s*[一二三四五六七八九十\d]+\s*条", simplified, re.M) and re.search(r"条例|办法|规定|法$", title_s):
        doc_type = "法规"
    elif "要点" in title_s:
        doc_type = "工作要点"
    elif "报告" in title_s or re.search(r"报告如下|专此报告|特此报告", simplified):
        doc_type = "年度报告"
    elif re.search(r"工作要点如下|要点如下", head):
        doc_type = "工作要点"
    else:
        doc_type = "其他"
    return DocumentMeta(title, body, region, year, doc_type, script_of(text), published_date(raw_text or text, text))


def issuing_body(title: str, head: str, tail: str) -> str:
    """The body a document names as its author, read where a name stands on its own (see TITLE_BODY); '' when
    no such place names one."""
    lines = [line for line in head.split("\n") if line.strip()]
    # the opening sentence may follow the title and a salutation (市政府：)
    opening = lines[1:3] if title and lines and lines[0].strip() == title.strip() else lines[:2]
    found = [TITLE_BODY.match(title), AUTHOR_TITLE.match(title) if AUTHORED.search(TITLE_NOTE.sub("", title)) else None,
             ENACTED_BY.search(head)]
    found += [OPENING_BODY.match(line) for line in opening if SENTENCE.search(line)]  # a sentence, not a title line
    for m in found:
        if m and names_a_body(m.group(1)):
            return TERM.sub("", m.group(1))
    spoken = speaker_body(head, title)
    if spoken:
        return spoken
    for m in [LINE_BODY.fullmatch(line) for line in lines + tail.split("\n")[-6:]]:
        if m and names_a_body(m.group(1)):
            return TERM.sub("", m.group(1))
    return ""


def speaker_body(head: str, title: str = "") -> str:
    """The body a speaker reports for (see SPEAKER), its term left out; the party's 中央委员会 named in full when
    the title is a party congress's (a youth league's or a union's congress has a 中央委员会 of its own)."""
    m = SPEAKER.search(head)
    if not m:
        return ""
    name = ANY_TERM.sub("", m.group(1))
    if name == "中央委员会":  # whose, only the title says
        name = "中国共产党中央委员会" if PARTY.search(title) or CPC_CONGRESS.search(title) else ""
    return name if names_a_body(name) else ""


def session_year(title: str) -> str:
    """The year of the congress session a title names (国家机构: NPC_SESSIONS, CPC_CONGRESSES); '' for others."""
    m = NPC_SESSION.search(title)
    if m:
        term, session = cn_number(m.group(1)), cn_number(m.group(2))
        years = NPC_SESSIONS.get(term)
        if years is None and term >= 5:  # from the 5th NPC on, one session a year from the term's first
            first = NPC_FIRST_SESSION.get(term)
            return str(first + session - 1) if first and 1 <= session <= 5 else ""
        return str(years[session - 1]) if years and 1 <= session <= len(years) else ""
    m = CPC_CONGRESS.search(title)
    if m:
        year = CPC_CONGRESSES.get(cn_number(m.group(1) or m.group(2)))
        return str(year) if year else ""
    return ""


def cn_number(numeral: str) -> int:
    """一 … 九十九 as an int (0 when it isn't one)."""
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")}
    if not numeral or any(c not in digits and c != "十" for c in numeral):
        return 0
    if "十" not in numeral:
        return digits[numeral] if len(numeral) == 1 else 0
    tens, _, units = numeral.partition("十")
    return (digits.get(tens, 0) if tens else 1) * 10 + (digits.get(units, 0) if units else 0)


def names_a_body(name: str) -> bool:
    """Whether `name` is a named organ (广州市司法局, 第八届全国人民代表大会常务委员会), not a phrase that ends like one
    (县级以上地方人民政府, 由国家安全局, 总体布局)."""
    if re.search(r"[我本该各贵]", name) or NOT_AN_ORGAN.search(name):
        return False
    return bool(leading_region(name) or NATIONAL.match(name))


def nationwide(body: str) -> bool:
    """Whether a body is a national organ of the PRC that no place name in it narrows (see NATIONWIDE)."""
    return bool(body and NATIONWIDE.match(body) and not PLACED.search(body) and not text_city_pattern().search(body))


def region_from_text(simplified: str) -> str:
    """The region of a report whose title and signature name no body: the city its text keeps naming.

    A bureau's report says 我局 and names its own city throughout (韶关市乡镇（街道）…); a prefecture-level city of
    the gazetteer, by its full name, is taken only when it is named at least TEXT_CITY_MIN times and more than
    twice as often as any other.
    """
    if not LOCAL_VOICE.search(simplified):  # national and party reports name cities without being theirs
        return ""
    counts: dict[str, int] = {}
    for m in text_city_pattern().finditer(simplified):
        counts[m.group(0)] = counts.get(m.group(0), 0) + 1
    if not counts:
        return ""
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    city, n = ranked[0]
    runner_up = ranked[1][1] if len(ranked) > 1 else 0
    if n < TEXT_CITY_MIN or n <= 2 * runner_up:
        return ""
    return gazetteer().regions[city]


@lru_cache(maxsize=1)
def text_city_pattern() -> re.Pattern:
    """Any prefecture-level city's full name (the longest first, so 延边朝鲜族自治州 is not cut short)."""
    return re.compile("|".join(map(re.escape, gazetteer().prefectures)))
