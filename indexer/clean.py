"""Removing site chrome, navigation, spam and other non-report lines from scraped pages."""

from __future__ import annotations

import re
import unicodedata

from .structure import heading_level

# Lines that are page furniture, in either script. Each pattern matches a whole chrome line.
CHROME_PATTERNS = [
    r"无障碍|無障礙|长者助手|長者助手|[繁简簡]体版|[繁简簡]體版",
    r"(信息|文章)?[来來]源\s*[:：].{0,40}(时间|時間|字[体體])",
    r"字[体體]\s*[:：]?\s*[【\[]?\s*[大中小]\s*[】\]]?",
    r"^[【\[]?\s*字[体體]\s*[:：]",
    r"^(发布|發布|转载|轉載|更新|发表|發表)(时间|時間|日期)\s*[:：]",
    r"^[来來]源(网站|網站)?\s*[:：]",
    r"^(您|你)?(当前|當前|现在|現在)(的)?(位置|所在位置)\s*[:：]",
    r"^首[页頁]\s*[>›»]",
    r"^(打印|打印本页|关闭|關閉|关闭窗口|關閉窗口|分享到|收藏|返回顶部|返回頂部)(\s|$)",
    r"^(浏览次数|瀏覽次數|阅读次数|閱讀次數|点击数|點擊數)\s*[:：]",
    # a government site's copyright line (not 版权所有人…, a sentence about copyright)
    r"^(版权所有|版權所有)\s*(?:[:：©]|\(C\)|$)|^Copyright\b|^©",
]
# A site footer's filing numbers (粤ICP备12345678号 粤公网安备44010402001234号, 网站标识码4401000012), on a line that
# is no sentence: …备案号为粤ICP备05012345号，已在首页公示。 is a report's text.
FILING_NUMBER = re.compile(r"ICP[备備]\s*\d{6,}|公[网網]安[备備]\s*\d{8,}|[网網]站[标標][识識]码\s*[:：]?\s*[0-9A-Za-z]{8,}")
CLAUSE = re.compile(r"[，,。；;！？]")
# Gambling / lottery spam injected into hacked pages (彩神8快3下載, 快3彩票_Wellcome!!|…).
SPAM_PATTERN = re.compile(
    r"彩神|快3|快三|pk10|PK10|时时彩|時時彩|六合彩|彩票注[册冊]|Wellcome|[官网網]站下[载載]|app下[载載]|棋牌|百家乐|百家樂|娱乐城|娛樂城"
)
# A licence notice pasted under the text (Wikisource's public-domain templates under 79 of the 88 work reports:
# 本作品是中华人民共和国的法律、法规…属于公有领域 / 这部作品在1931年1月1日以前…發表 / Public domain): cut from its first
# line to the end when what follows is short and names a licence. Indexed, it was each report's last passages.
LICENCE_START = re.compile(r"^(?:本作品(?:是|来自|來自|系|係|在)|[这這]部作品在|注\s*[:：]\s*中文[维維]基文[库庫]|Public domain$)")
LICENCE_MARK = re.compile(r"公有[领領]域|Public domain")
LICENCE_MAX_CHARS = 3000  # the longest template seen (the CPC documents' one) is ~900 characters
BULLET = re.compile(r"^[\s•·●■◆▪\-\*]+")
_CHROME = [re.compile(p) for p in CHROME_PATTERNS]


def is_chrome_line(line: str) -> bool:
    """True for navigation, page metadata and share/print widgets."""
    body = BULLET.sub("", line).strip()
    if not body:
        return False
    if len(body) > 120:  # real paragraphs are long; chrome lines are short
        return False
    return any(p.search(body) for p in _CHROME) or bool(FILING_NUMBER.search(body) and not CLAUSE.search(body))


def is_spam_line(line: str) -> bool:
    """True for gambling spam: a short line with spam words, or a |-separated list of them."""
    body = line.strip()
    if not body or not SPAM_PATTERN.search(body):
        return False
    return len(body) <= 40 or body.count("|") >= 2 or body.count("_") >= 2


def clean_text(text: str) -> str:
    """The report text as a reader would see it: chrome and spam lines dropped, whitespace tidied."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    kept: list[str] = []
    items: set[int] = set()  # lines that open an item of their own: a bullet, a Markdown heading
    for raw in text.split("\n"):
        line = raw.replace("\u00a0", " ").replace("\u3000", " ").strip()
        if is_chrome_line(line) or is_spam_line(line):
            continue
        if BULLET.match(line) or MARKDOWN_MARK.match(line):
            items.add(len(kept))
        line = BULLET.sub("", line) if BULLET.match(line) and len(line) < 60 else line
        kept.append(line)
    kept = without_licence_footer(kept)
    kept = join_soft_breaks(kept, items)
    out: list[str] = []
    for line in kept:  # collapse runs of blank lines
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(join_broken_titles(out)).strip()


# A page that renders each inline link on a line of its own breaks the sentence around it: 工贼 / 刘少奇 / 为首的…,
# 所作的 / 政府工作报告 / 。会议…, 上届代表会议 / [ / 1 / ] / 以来的工作报告. Each line became a paragraph of its own,
# and the short ones (刘少奇) were dropped as not worth indexing: words lost from the text (the Wikisource pages
# of the work reports).
CONTINUES = re.compile(r"^[。，、；：！？!?,;:）)\]』」%]")  # nothing starts a paragraph with these
ENDS = re.compile(r"[。！？!?；;：:…”’」』）)】\]]$")  # a line that may end a paragraph
FOOTNOTE_MARK = ("[", "]")  # [ / 1 / ] lines: a reference mark, not text (a lone digit elsewhere may be a formula's)
FIELD = re.compile(r"^[\u4e00-\u9fff]{2,6}\s*[:：]")  # 联系人：… 电话：… 抄送：…: a labelled line of its own
MARKDOWN_MARK = re.compile(r"^#{1,6}\s")
LINK_CHARS = 16  # a line this short inside a sentence is a link's text
SOFT_BREAK_STYLE = 0.6  # share of paragraph ends followed by a blank line above which single breaks are soft


def join_soft_breaks(lines: list[str], items: set[int] = frozenset()) -> list[str]:
    """Lines of one sentence, broken by inline links or footnote marks, put back together.

    Always: a line that starts with what only continues a sentence (。，、…) or follows an opening bracket joins
    the line before it, and so does a link just before such a line; a footnote mark ([ / 1 / ]) inside a
    paragraph goes. In a text whose paragraphs are separated by blank lines (Markdown's rule, and the wiki
    pages'), a short line inside a sentence (after a line with a comma that doesn't end), and the line after
    it, join it too. A heading, a labelled line (电话：…), a bullet or Markdown item (`items`, their indices)
    never joins anything, and a line that ends a sentence is never continued.
    """
    ends = [i for i, line in enumerate(lines[:-1]) if line and ENDS.search(line)]
    soft = bool(ends) and sum(1 for i in ends if not lines[i + 1]) / len(ends) >= SOFT_BREAK_STYLE
    out: list[str] = []
    after_link = after_mark = False
    open_item = False  # whether out[-1] is (or continues) a bullet, Markdown or labelled line
    i = 0
    while i < len(lines):
        line = lines[i]
        mark = line == FOOTNOTE_MARK[0] and i + 2 < len(lines) and lines[i + 1].isdigit() and len(lines[i + 1]) <= 3 \
            and lines[i + 2] == FOOTNOTE_MARK[1]
        if mark and out and out[-1] and i + 3 < len(lines):
            after_mark = True  # [ 1 ] between two lines of a paragraph: the sentence goes on after it
            i += 3
            continue
        previous = out[-1] if out else ""
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        item = i in items or bool(FIELD.match(line))
        joins = bool(previous and line) and not item and not open_item and not ENDS.search(previous) \
            and heading_level(previous) is None and heading_level(line) is None and (
                bool(CONTINUES.match(line)) or previous[-1] in "（(" + OPENERS
                or (len(line) <= LINK_CHARS and bool(CONTINUES.match(nxt))) or after_mark
                or (soft and (after_link or (len(line) <= LINK_CHARS and re.search(r"[，,]", previous)))))
        after_mark = False
        if joins:
            after_link = len(line) <= LINK_CHARS and not CONTINUES.match(line)
            out[-1] = previous + line
        else:
            after_link = False
            open_item = item
            out.append(line)
        i += 1
    return out


def without_licence_footer(lines: list[str]) -> list[str]:
    """The lines before a licence notice that runs to the end of the text (see LICENCE_START); all of them when
    there is none, or when the notice would be the whole text."""
    for i, line in enumerate(lines):
        if i and LICENCE_START.match(line):
            rest = "".join(lines[i:])
            if len(rest) <= LICENCE_MAX_CHARS and LICENCE_MARK.search(rest) and any(l.strip() for l in lines[:i]):
                return lines[:i]
    return lines


OPENERS = "《“「『〔【"
CLOSERS = "》”」』〕】"


def join_broken_titles(lines: list[str]) -> list[str]:
    """Lines a page broke inside 《…》 or “…” put back together: 根据《 / 中华人民共和国著作权法 / 》第… is one
    line again (a linked title rendered on its own line), and so is a quotation whose “ ended a line. Without
    this the structure step cut a passage right after 《 or “ (237 such cuts in the 88 work reports)."""
    out: list[str] = []
    for line in lines:
        glue = bool(out) and bool(out[-1]) and bool(line) and (
            out[-1][-1] in OPENERS or line[0] in CLOSERS)  # nothing ends a line with 《 or starts one with 》
        if glue:
            out[-1] += line
        else:
            out.append(line)
    return out
