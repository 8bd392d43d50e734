"""Matched query terms → character spans in the passage's original script."""

from __future__ import annotations

from core.textform import to_simplified, token_spans


def highlight_spans(text: str, query_tokens: list[str], folded: str | None = None
                    ) -> tuple[list[tuple[int, int]], list[str]]:
    """(merged spans in `text`, distinct matched terms as written in `text`) for the query's tokens.

    `folded`: a lower-case Simplified form of `text` the caller already holds (the index's matching form),
    used when it has the same length, so that its offsets index `text`."""
    wanted = set(query_tokens)
    if not wanted:
        return [], []
    # to_simplified keeps length, so offsets found in the Simplified form index the original text.
    if folded is None or len(folded) != len(text):
        folded = to_simplified(text).lower()
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
