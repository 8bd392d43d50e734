"""Heading hierarchy (一、（一）1.（1）, 第X编/章/节/条) and enumerated measures (一是…) → passages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

CN_NUM = "一二三四五六七八九十百千零〇两"
# Report heading levels, outermost first; regulation levels sit above them.
HEADING_PATTERNS: list[tuple[int, re.Pattern[str]]] = [
    (1, re.compile(rf"^第\s*[{CN_NUM}\d]+\s*[编編]")),
    (2, re.compile(rf"^第\s*[{CN_NUM}\d]+\s*章")),
    (3, re.compile(rf"^第\s*[{CN_NUM}\d]+\s*[节節]")),
    (4, re.compile(rf"^[{CN_NUM}]+\s*[、.．]")),
    (5, re.compile(rf"^[（(]\s*[{CN_NUM}]+\s*[）)]")),
    (6, re.compile(r"^\d{1,2}\s*[、.．](?!\d)")),
    (7, re.compile(r"^[（(]\s*\d{1,2}\s*[）)]")),
]
REGULATION_LEVELS = (1, 2, 3)
ARTICLE = re.compile(rf"^第\s*[{CN_NUM}\d]+\s*[条條](?:之[{CN_NUM}\d]+)?")
# 一是…二是… at the start of the paragraph or of a sentence.
MEASURE = re.compile(rf"(?:^|(?<=[。；;！!？?：:\s]))[{CN_NUM}]{{1,3}}是")
SENTENCE_END = re.compile(r"[。！？!?；;]")
CJK = re.compile(r"[\u3400-\u9fff]")
MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+")

MAX_PASSAGE_CHARS = 360  # ~e5's 512-token window with room for the heading; longer text is split
SHORT_PARAGRAPH = 80  # a paragraph this short keeps its 一是…二是… together
MAX_HEADING_CHARS = 60
MAX_REGULATION_HEADING = 40
# 第一，深化政府机构改革。 on a line of its own, with its paragraphs below it: a sub-heading of the government work
# reports (130 of them head paragraphs in 17 of the 88). Without this it was a passage of its own, or dropped as too
# short, and the paragraphs below it lost their heading. A long 第一，… line is an enumerated paragraph, and a run of
# short ones with nothing between them is a list: both stay text.
ORDINAL_HEADING = re.compile(r"^第[一二三四五六七八九十]+[，,]")
ORDINAL_TITLE = re.compile(r"^第[一二三四五六七八九十]+[，,]\s*[\u4e00-\u9fff]{4}")  # a title after it, not 第一， alone
ORDINAL_HEADING_CHARS = 40
ORDINAL_LEVEL = 8  # below every numbered heading: it never closes a 1. or （1） section it sits in


@dataclass
class Passage:
    """A searchable unit: its span in the document text and the headings above it."""

    start: int
    end: int
    heading_path: list[str] = field(default_factory=list)
    kind: str = "paragraph"  # paragraph | measure | article


@dataclass
class _Line:
    start: int
    end: int
    text: str
    markdown_level: int = 0  # number of leading '#' (Markdown, or Word heading styles)


def _lines(text: str) -> list[_Line]:
    """Non-empty lines with their offsets; whitespace and Markdown heading marks left out of the span."""
    out, pos = [], 0
    for raw in text.split("\n"):
        marks = MARKDOWN_HEADING.match(raw.strip())
        stripped = raw.strip()[marks.end() :] if marks else raw.strip()
        if stripped:
            lead = raw.index(stripped)
            level = marks.group(0).count("#") if marks else 0
            out.append(_Line(pos + lead, pos + lead + len(stripped), stripped, level))
        pos += len(raw) + 1
    return out


def heading_level(line: str) -> int | None:
    """The heading level a line starts with, or None for body text."""
    for level, pattern in HEADING_PATTERNS:
        if pattern.match(line):
            if level in REGULATION_LEVELS and len(line) > MAX_REGULATION_HEADING:
                return None
            return level
    return None


def _split_heading(line: _Line) -> tuple[str, int]:
    """(heading title, offset where the body starts; line.end when the line is all heading)."""
    text = line.text
    first_end = SENTENCE_END.search(text)
    if first_end is None or first_end.end() == len(text):
        if len(text) <= MAX_HEADING_CHARS:
            return text.rstrip("。；;"), line.end
        return _label(text), line.start
    if first_end.start() <= MAX_HEADING_CHARS:
        body = first_end.end()
        while body < len(text) and text[body].isspace():
            body += 1
        return text[: first_end.start()], line.start + body
    return _label(text), line.start


def _label(text: str) -> str:
    """The bare enumerator of a heading line, e.g. （三） or 2."""
    for _, pattern in HEADING_PATTERNS:
        m = pattern.match(text)
        if m:
            return m.group(0).strip()
    return text[:10]


def is_substantive(text: str) -> bool:
    """Worth indexing: a real sentence, not a title, date, salutation or signature."""
    if len(CJK.findall(text)) < 12:
        return False
    return bool(SENTENCE_END.search(text) or re.search(r"[，,]", text)) or len(text) >= MAX_HEADING_CHARS


def split_long(start: int, end: int, text: str, limit: int = MAX_PASSAGE_CHARS) -> list[tuple[int, int]]:
    """Split [start, end) of `text` at sentence ends into pieces of at most `limit` characters."""
    if end - start <= limit:
        return [(start, end)]
    cuts = [m.end() for m in SENTENCE_END.finditer(text, start, end)] + [end]
    pieces, piece_start, previous = [], start, start
    for cut in cuts:
        if cut - piece_start > limit:
            if previous > piece_start:
                pieces.append((piece_start, previous))
                piece_start = previous
            while cut - piece_start > limit:  # one sentence longer than the limit: cut inside it
                inner = clause_cut(text, piece_start, piece_start + limit)
                pieces.append((piece_start, inner))
                piece_start = inner
        previous = cut
    if piece_start < end:
        pieces.append((piece_start, end))
    return pieces


CLAUSE_END = re.compile(r"[，,、：:）)」』”]")
OPENERS = "《“「『（(【〔‘"


def clause_cut(text: str, start: int, limit_end: int) -> int:
    """Where to cut a sentence longer than the limit: after its last clause mark in the second half of
    [start, limit_end), else at limit_end, moved back before any opening bracket or quote it would split
    off from what it opens (《…》, “…”). A hard cut at the limit split 9% of the work reports' long passages,
    some right after 《."""
    half = start + (limit_end - start) // 2
    clauses = [m.end() for m in CLAUSE_END.finditer(text, half, limit_end)]
    if clauses:
        return clauses[-1]
    cut = limit_end
    while cut > half and text[cut - 1] in OPENERS:
        cut -= 1
    return cut


def split_measures(start: int, end: int, text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) pieces of a paragraph: the intro and each 一是…/二是… measure."""
    body = text[start:end]
    marks = [m.start() for m in MEASURE.finditer(body)]
    if len(body) < SHORT_PARAGRAPH or len(marks) < 2 or not body[marks[0] :].startswith("一是"):
        return [(start, end, "paragraph")]
    pieces = []
    if body[: marks[0]].strip():
        pieces.append((start, start + marks[0], "paragraph"))
    bounds = marks + [len(body)]
    for a, b in zip(bounds, bounds[1:]):
        pieces.append((start + a, start + b, "measure"))
    return pieces


def _trim(start: int, end: int, text: str) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


LIST_INTRO_END = ("：", ":", "；", ";")  # a line ending so announces list items, (一)…； (二)…
MAX_LIST_ITEM = 80  # an item ending in 。 longer than this is a section with a body, not an item


def is_list_item(line: str, previous: str) -> bool:
    """An enumerated line inside a list: after ：/；, itself ending in ；, or short and ending in 。."""
    if not previous.endswith(LIST_INTRO_END):
        return False
    return line.endswith(("；", ";")) or (line.endswith(("。", ".")) and len(line) <= MAX_LIST_ITEM)


def is_ordinal_heading(line: str, following: str, preceding: str = "") -> bool:
    """第一，… as a sub-heading (see ORDINAL_HEADING): short, followed by a paragraph rather than the next item, and
    not the last item of a list (after another item)."""
    return bool(
        ORDINAL_TITLE.match(line) and len(line) <= ORDINAL_HEADING_CHARS and following
        and not (ORDINAL_HEADING.match(preceding) and len(preceding) <= ORDINAL_HEADING_CHARS)
        and not ORDINAL_HEADING.match(following) and heading_level(following) is None
        and not ARTICLE.match(following) and is_substantive(following)
    )


def parse_passages(text: str) -> list[Passage]:
    """Split cleaned document text into passages that follow its own headings.

    A line that starts like a heading but follows a line ending in ：or ；is a list item
    (下列义务：（一）…；（二）…): it continues that paragraph instead of opening a section.
    """
    passages: list[Passage] = []
    stack: list[tuple[int, str]] = []  # (level, heading title)
    article: Passage | None = None
    paragraph: Passage | None = None  # the paragraph still open to list items
    heading_line_start: int | None = None  # where the paragraph's heading line starts, if it has one
    previous = ""

    def path() -> list[str]:
        return [title for _, title in stack]

    def emit(start: int, end: int, kind: str, heading_path: list[str]) -> None:
        for piece_start, piece_end, piece_kind in (
            split_measures(start, end, text) if kind == "paragraph" else [(start, end, kind)]
        ):
            for a, b in split_long(piece_start, piece_end, text):
                a, b = _trim(a, b, text)
                if b > a and is_substantive(text[a:b]):
                    passages.append(Passage(a, b, list(heading_path), piece_kind))

    def close() -> None:
        nonlocal article, paragraph, heading_line_start
        if paragraph is not None and heading_line_start is not None:
            # A work-plan item whose body is only "(法规处牵头)" keeps its whole line as the passage.
            if not is_substantive(text[paragraph.start : paragraph.end]):
                paragraph.start = heading_line_start
        for block in (article, paragraph):
            if block is not None:
                emit(block.start, block.end, block.kind, block.heading_path)
        article = paragraph = heading_line_start = None

    lines = _lines(text)
    for i, line in enumerate(lines):
        list_item = is_list_item(line.text, previous)
        previous = line.text
        if ARTICLE.match(line.text):
            close()
            label = ARTICLE.match(line.text).group(0).replace(" ", "")
            article = Passage(line.start, line.end, path() + [label], "article")
            continue
        level = heading_level(line.text)
        if level is None and line.markdown_level:
            level = min(3 + line.markdown_level, 7)  # a marked heading without enumerator: below 编/章/节
        if level is None and is_ordinal_heading(line.text, lines[i + 1].text if i + 1 < len(lines) else "",
                                                lines[i - 1].text if i else ""):
            level = ORDINAL_LEVEL
        elif level is None and stack and stack[-1][0] == ORDINAL_LEVEL and ORDINAL_HEADING.match(line.text):
            stack.pop()  # the next item (第二，… as a paragraph) ends the previous item's section
        if level in REGULATION_LEVELS:
            close()
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, line.text))
            continue
        if article is not None:  # items and paragraphs inside an article belong to it
            article.end = line.end
            continue
        if paragraph is not None and list_item:
            paragraph.end = line.end
            continue
        if level is None:
            close()
            paragraph = Passage(line.start, line.end, path(), "paragraph")
            continue
        close()
        title, body_start = _split_heading(line)
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        if body_start < line.end:
            paragraph = Passage(body_start, line.end, path(), "paragraph")
            heading_line_start = line.start
    close()
    whole = _trim(0, len(text), text)
    short = 0 < whole[1] - whole[0] <= MAX_PASSAGE_CHARS and len(CJK.findall(text)) >= 4
    if short and (not passages or (not stack and not any(p.kind == "article" for p in passages))):
        # A short text without sections (one article, one notice) is one passage, not one per line,
        # and a short text is never left with nothing to find.
        return [Passage(whole[0], whole[1], [], "paragraph")]
    return passages
