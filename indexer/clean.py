"""Removing site chrome, navigation, spam and other non-report lines from scraped pages."""

from __future__ import annotations

import re
import unicodedata

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
]
# Gambling / lottery spam injected into hacked pages (彩神8快3下載, 快3彩票_Wellcome!!|…).
SPAM_PATTERN = re.compile(
    r"彩神|快3|快三|pk10|PK10|时时彩|時時彩|六合彩|彩票注[册冊]|Wellcome|[官网網]站下[载載]|app下[载載]|棋牌|百家乐|百家樂|娱乐城|娛樂城"
)
BULLET = re.compile(r"^[\s•·●■◆▪\-\*]+")
_CHROME = [re.compile(p) for p in CHROME_PATTERNS]


def is_chrome_line(line: str) -> bool:
    """True for navigation, page metadata and share/print widgets."""
    body = BULLET.sub("", line).strip()
    if not body:
        return False
    if len(body) > 120:  # real paragraphs are long; chrome lines are short
        return False
    return any(p.search(body) for p in _CHROME)


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
    for raw in text.split("\n"):
        line = raw.replace("\u00a0", " ").replace("\u3000", " ").strip()
        if is_chrome_line(line) or is_spam_line(line):
            continue
        line = BULLET.sub("", line) if BULLET.match(line) and len(line) < 60 else line
        kept.append(line)
    out: list[str] = []
    for line in kept:  # collapse runs of blank lines
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(join_broken_titles(out)).strip()


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
