"""Excluded words of a search: `-词` or `-"短语"` drops every passage that contains them, in either script.

A legal database's 不包含 and Elasticsearch's simple_query_string `-`: 法律顾问 -律师事务所 finds passages on
legal advisers that do not name a law firm. A `-` counts only at the start of the query or after a space, so
2021-2025 and 一-三 are text. The excluded words are matched as substrings of the passages' matching form
(Simplified, NFKC, lower case), like quoted phrases, and take no part in ranking. Only search reads them:
compare and the atlas judge whole documents, and there a `-` is part of the topic's text.
"""

from __future__ import annotations

import re

import numpy as np

from .aliases import fold

EXCLUDED = re.compile(r"(?:^|(?<=\s))[-－](?:\"([^\"]+)\"|“([^”]+)”|「([^」]+)」|([^\s\"“”「」]+))")
MIN_CHARS = 2  # a one-character exclusion (-市) would drop most passages and read every text to find them


def split(query: str) -> tuple[str, list[str]]:
    """(the query without its exclusions, the excluded words as typed, in order, without repeats).

    A `-` before one character only (-市) is text: excluding it would drop most passages and read every text.
    The rest may be empty (the query only excludes): search then answers nothing rather than everything.
    """
    found: list[str] = []

    def take(m: re.Match) -> str:
        term = next(g for g in m.groups() if g).strip()
        if len(fold(term)) < MIN_CHARS:
            return m.group(0)
        found.append(term)
        return " "

    rest = " ".join(EXCLUDED.sub(take, query or "").split())
    return rest, [t for t in dict.fromkeys(found) if t]


def positions(table, terms: list[str]) -> np.ndarray:
    """The sorted positions of the passages of `table` (search.match.PassageTable) holding any of `terms`."""
    found = [table.sparse_occurrences(fold(t))[0] for t in terms]
    return np.unique(np.concatenate(found)) if found else np.zeros(0, np.int64)


def without(ranked: list[tuple[int, float]], banned: np.ndarray) -> list[tuple[int, float]]:
    """`ranked` less the banned positions, in its order."""
    if not len(banned) or not ranked:
        return ranked
    keep = ~np.isin(np.fromiter((p for p, _ in ranked), np.int64, len(ranked)), banned)
    return [item for item, kept in zip(ranked, keep) if kept]
