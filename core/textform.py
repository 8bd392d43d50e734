"""The matching form of text: OpenCC Traditional→Simplified, jieba tokens, offsets back to the original."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

import jieba
import opencc

jieba.setLogLevel(logging.WARNING)

# Characters machine conversion got wrong in the scraped Traditional reports (全麵, 製度):
# OpenCC t2s keeps some of them, so they are folded explicitly before matching.
MISCONVERTED = str.maketrans({"麵": "面", "製": "制", "係": "系", "鬆": "松", "曆": "历", "範": "范"})

# Tokens that carry no meaning for lexical matching.
STOPWORDS = frozenset(
    "的 了 和 与 及 或 在 是 对 为 以 于 等 并 将 把 被 由 从 向 中 上 下 其 之 而 也 都 就 有 我 我们 "
    "一 不 这 那 个 年 月 日 各 进行 开展 加强 工作 推进 积极".split()
)
# Question words of colloquial queries (请问…怎么办…吗); they say nothing about the topic.
QUERY_STOPWORDS = frozenset(
    "请问 怎么 怎么办 如何 什么 哪些 是否 可以 应该 需要 能否 能不能 会不会 吗 呢 吧 啊 要 该 我 你 他 她 "
    "有没有 为什么 多少 谁 被 让 给 没有 这个 那个 这种 情况 一个".split()
)
_WORD = re.compile(r"[\w\u3400-\u9fff\uf900-\ufaff]", re.UNICODE)


@lru_cache(maxsize=1)
def _t2s() -> opencc.OpenCC:
    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """OpenCC t2s plus fixes for common bad conversions; always the same length as `text`."""
    converted = _t2s().convert(text)
    if len(converted) != len(text):
        # Phrase rules changed the length: convert char by char so offsets stay one-to-one.
        converted = "".join(_t2s().convert(ch) if len(_t2s().convert(ch)) == 1 else ch for ch in text)
    return converted.translate(MISCONVERTED)


def matching_form(text: str) -> str:
    """The form used for BM25 and embeddings: NFKC width folding, then Simplified script."""
    return to_simplified(unicodedata.normalize("NFKC", text))


def script_of(text: str) -> str:
    """'simplified', 'traditional' or 'mixed', from how many CJK characters t2s changes."""
    cjk = [c for c in text if "\u4e00" <= c <= "\u9fff"]
    if not cjk:
        return "simplified"
    sample = "".join(cjk[:20000])
    changed = sum(a != b for a, b in zip(sample, to_simplified(sample)))
    ratio = changed / len(sample)
    if ratio > 0.05:
        return "traditional"
    return "mixed" if ratio > 0.01 else "simplified"


def tokenize(text: str) -> list[str]:
    """jieba search-mode tokens of the matching form (法律顾问 → 法律, 顾问, 法律顾问), no punctuation or stopwords."""
    return [
        tok for tok in jieba.lcut_for_search(matching_form(text).lower())
        if tok.strip() and _WORD.search(tok) and tok not in STOPWORDS
    ]


def tokenize_query(text: str) -> list[str]:
    """Tokens of a typed query: as tokenize, without question words."""
    return list(_query_tokens(text))


@lru_cache(maxsize=4096)
def _query_tokens(text: str) -> tuple[str, ...]:
    """tokenize_query, kept for the last queries: a search cuts its query for BM25 and again for its match
    levels, and paging or a facet click asks the same query again (jieba: ~0.5 ms a query)."""
    return tuple(tok for tok in tokenize(text) if tok not in QUERY_STOPWORDS)


def token_spans(text: str, only: set[str] | None = None) -> list[tuple[str, int, int]]:
    """(matching-form token, start, end) over `text`; offsets index the original string.

    `only`: words wanted; then only the clauses that hold one are cut. jieba cuts each run of Han
    characters and letters (its `re_han_default` blocks) on its own, so the tokens are the same, and a
    hit's highlight no longer runs jieba over every clause of a long passage (issue 17: ~1 ms a hit)."""
    # jieba on the t2s form (same length as the original) keeps offsets valid for both scripts.
    simplified = to_simplified(text)
    spans = []
    offset = 0
    for block in jieba.re_han_default.split(simplified) if only is not None else [simplified]:
        if only is not None and not any(w in unicodedata.normalize("NFKC", block).lower() for w in only):
            offset += len(block)
            continue
        for tok, start, end in jieba.tokenize(block):
            norm = unicodedata.normalize("NFKC", tok).lower()
            if norm.strip() and _WORD.search(norm):
                spans.append((norm, offset + start, offset + end))
        offset += len(block)
    return spans
