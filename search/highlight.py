"""Matched query terms → character spans in the passage's original script."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from core.textform import to_simplified, token_spans

from .source_terms import folded_forms, is_filler, is_function_word


def held_terms(folded: str, query_tokens: Sequence[str], phrases: Sequence[str]) -> list[str]:
    """The terms to mark in one passage: the phrases it holds, and the tokens that are not part of one of them.

    jieba's search-mode sub-words are there for recall. Where a passage holds 公平竞争审查, marking every
    other 审查 (or 法律 beside 法律顾问) shows words the user did not ask for, as if they were hits; where it
    does not hold the phrase, its words are what matched and stay marked. A query word that holds another
    (jieba's search mode gives 法律顾问 with its 法律 and 顾问) is a phrase of its own where no held phrase
    holds it: in 关于法律顾问的工作, a passage with 法律顾问 has no 法律 marked apart from it."""
    held = [p for p in dict.fromkeys(phrases) if len(p) >= 2 and p in folded]
    compounds = sorted({t for t in query_tokens if t not in held and t in folded
                        and any(o != t and o in t for o in query_tokens)}, key=lambda t: (-len(t), t))
    for word in compounds:  # longest first: 公平竞争审查 holds 公平竞争
        if not any(word in p for p in held):
            held.append(word)
    return held + [t for t in query_tokens if t not in held and not any(t in p for p in held)]


def highlight_spans(text: str, query_tokens: Sequence[str], folded: str | None = None,
                    phrases: Sequence[str] = ()) -> tuple[list[tuple[int, int]], list[str]]:
    """(merged spans in `text`, distinct matched terms as written in `text`) for the query's tokens.

    `folded`: a lower-case Simplified form of `text` the caller already holds (the index's matching form),
    used when it has the same length, so that its offsets index `text`. `phrases`: the query's phrases and
    other names (folded); where the passage holds one, the tokens inside it are not marked apart from it."""
    if not query_tokens and not phrases:
        return [], []
    # to_simplified keeps length, so offsets found in the Simplified form index the original text.
    if folded is None or len(folded) != len(text):
        folded = to_simplified(text).lower()
    wanted = set(held_terms(folded, query_tokens, phrases) if phrases else query_tokens)
    if not wanted:
        return [], []
    spans: list[tuple[int, int]] = []
    for token in wanted:
        if len(token) < 2:
            continue
        start = folded.find(token)
        while start >= 0:
            spans.append((start, start + len(token)))
            start = folded.find(token, start + len(token))
    singles = {t for t in wanted if len(t) == 1}
    if singles:  # one-character words only where jieba also reads them as a word
        spans += [(s, e) for token, s, e in token_spans(text, singles) if token in singles]
    merged = _merged(spans)
    terms: list[str] = []
    for start, end in merged:
        if text[start:end] not in terms:
            terms.append(text[start:end])
    return merged, terms


def grow_to_shared(text: str, spans: list[tuple[int, int]], source: str) -> tuple[list[tuple[int, int]], list[str]]:
    """find-similar's marks grown by their neighbouring words (2+ characters) while the run also occurs in the
    source, so that a shared 公平竞争审查 shows whole rather than as its rare part 公平竞争 with 审查 unmarked.

    A mark grows by whole words of both texts only. One-character words (的, 和), filler (落实, 开展, 三是,
    制度: source_terms.is_filler) and function words (关于, 以及: is_function_word) never extend it.
    A mark whose text the source does not hold, in either vocabulary (软件 for 軟體), is dropped: a word the
    hit shares only with the source's heading or title context was not in what the user selected.
    Returns (merged spans, distinct marked terms as written)."""
    folded, forms = to_simplified(text).lower(), _source_forms(source)
    spans = [(s, e) for s, e in spans if any(folded[s:e] in f for f in forms)]
    if not spans:
        return [], []
    wanted = forms[0]
    source_words = {t for t, _s, _e in token_spans(source)}  # whole words: 合法 never grows into the source's 合法性
    words = [(s, e) for t, s, e in token_spans(text, {folded[a:b] for a, b in spans})
             if e - s >= 2 and not is_filler(t) and not is_function_word(t) and t in source_words]
    after, before = {s: e for s, e in words}, {e: s for s, e in words}
    grown = []
    for start, end in spans:
        while end in after and folded[start:after[end]] in wanted:
            end = after[end]
        while start in before and folded[before[start]:end] in wanted:
            start = before[start]
        grown.append((start, end))
    merged: list[tuple[int, int]] = []
    for start, end in _merged(grown):  # touching marks (公平 + 竞争审查) are one where the source has them so
        if merged and start == merged[-1][1] and folded[merged[-1][0]:end] in wanted:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged, list(dict.fromkeys(text[s:e] for s, e in merged))


@lru_cache(maxsize=8)
def _source_forms(source: str) -> tuple[str, ...]:
    """A source's lower-case Simplified form, then its forms in the other script's vocabulary (one request's
    hits share one source, so it is converted once)."""
    return (to_simplified(source).lower(), *(f.lower() for f in folded_forms(source)))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping spans as one, in order."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and start < out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out
