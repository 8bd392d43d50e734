"""Matched query terms → character spans in the passage's original script."""

from __future__ import annotations

from collections.abc import Sequence

from core.textform import to_simplified, token_spans


def held_terms(folded: str, query_tokens: Sequence[str], phrases: Sequence[str]) -> list[str]:
    """The terms to mark in one passage: the phrases it holds, and the tokens that are not part of one of them.

    jieba's search-mode sub-words are there for recall. Where a passage holds 公平竞争审查, marking every
    other 审查 (or 法律 beside 法律顾问) shows words the user did not ask for, as if they were hits; where it
    does not hold the phrase, its words are what matched and stay marked."""
    held = [p for p in dict.fromkeys(phrases) if len(p) >= 2 and p in folded]
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
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    terms: list[str] = []
    for start, end in merged:
        if text[start:end] not in terms:
            terms.append(text[start:end])
    return merged, terms
