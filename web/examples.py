"""Example queries for the first screen, drawn from the corpus's own measure headings.

A heading such as "（三）完善政府法律顾问管理机制" names a measure. Stripped of its numbering and of the verbs
every report uses (加强, 完善, 推进 …), what is left ("政府法律顾问管理机制") is a topic a researcher would
search for. The topics found under headings of the most documents come first. The list is computed once
per index version (a few ms per thousand passages) and cached.
"""

from __future__ import annotations

import re
import threading
from collections import Counter

from core.textform import matching_form

EXAMPLES = 6
MIN_CHARS, MAX_CHARS = 3, 10
NUMBERING = re.compile(r"^\s*(?:第[一二三四五六七八九十百零〇\d]+[章节条部分]|[（(]?[一二三四五六七八九十百零〇\d]+[)）、.．]?)\s*")
CLAUSE = re.compile(r"[，,、；;：:。！!？?\s]+")
# The verbs and qualifiers of report headings: they say that something was done, not what.
LEADING = re.compile(
    r"^(?:以|在|对|把|将|为|着力|持续|全面|深入|进一步|切实|积极|认真|大力|不断|稳步|扎实|严格|依法|主动|自觉|统筹|"
    r"加强|加大|强化|完善|健全|推进|推动|深化|落实|提升|提高|优化|规范|坚持|创新|做好|抓好|开展|实施|建立|构建|"
    r"畅通|广泛|妥善|及时|注重|狠抓|突出|加快|聚焦|围绕|筑牢|夯实|营造|助力|增强|全力|推行|实行|贯彻)+")
TRAILING = re.compile(r"(?:为(?:中心点|着力点|切入点|关键点|立足点|抓手|重点|引领|核心)|工作|情况|力度|水平|能力|建设)+$")
GENERIC = {"法治政府", "法治政府建设", "依法行政", "存在问题", "下一步工作", "工作计划", "总体情况", "主要工作", "工作思路",
           "存在不足", "基本情况", "组织领导", "党的领导", "总体推进", "年度工作"}
GENERIC_START = ("法治政府", "法治建设", "依法行政", "党对", "习近平")

_cache: dict[str, list[str]] = {}
_lock = threading.Lock()


def topics_of(heading: str) -> list[str]:
    """The measure topics named by one heading (its clauses, numbering and stock verbs removed)."""
    text = NUMBERING.sub("", matching_form(heading))
    out = []
    for clause in CLAUSE.split(text):
        topic = TRAILING.sub("", LEADING.sub("", clause))
        if (MIN_CHARS <= len(topic) <= MAX_CHARS and topic not in GENERIC
                and not topic.startswith(GENERIC_START) and not re.search(r"\d", topic)):
            out.append(topic)
    return out


def example_queries(engine, n: int = EXAMPLES) -> list[str]:
    """The topics under the headings of the most documents (then of the most passages), cached per index version."""
    version = engine.health()["version"]
    with _lock:
        if version in _cache:
            return _cache[version][:n]
    in_docs: Counter[str] = Counter()
    in_passages: Counter[str] = Counter()
    for summary in engine.documents():
        seen: set[str] = set()
        for passage in engine.document(summary["doc_id"])["passages"]:
            for heading in passage["heading_path"]:
                for topic in topics_of(heading):
                    in_passages[topic] += 1
                    seen.add(topic)
        in_docs.update(seen)
    ranked = sorted(in_docs, key=lambda t: (-in_docs[t], -in_passages[t], len(t), t))
    chosen: list[str] = []
    for topic in ranked:  # no topic that repeats a chosen one (行政执法 and 行政执法责任制)
        if not any(topic in c or c in topic for c in chosen):
            chosen.append(topic)
        if len(chosen) >= EXAMPLES:
            break
    with _lock:
        _cache.clear()  # one index version at a time
        _cache[version] = chosen
    return chosen[:n]
