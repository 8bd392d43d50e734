"""Fusion of ranked lists (score-based for search, reciprocal rank for find-similar's first stage) and
per-document grouping."""

from __future__ import annotations

import math
from typing import Callable, Iterable, Sequence

# Reciprocal rank fusion, find-similar's first stage (its second stage re-ranks inside documents). Chosen
# on STARD-train (docs/benchmarks.md): every value with k=20 and BM25 weight 0.4-0.6 scored within 0.003.
RRF_K = 20
BM25_WEIGHT, DENSE_WEIGHT = 0.5, 1.0
# Search fuses scores, not ranks: each retriever's scores as z-scores over its own candidates, then
# SEARCH_DENSE_WEIGHT × dense + (1 − it) × BM25 (a convex combination, as Bruch et al. 2023 recommend over
# RRF: rank fusion throws away how far ahead the best candidates are). Measured side by side on the dev sets
# (benchmarks/fusion.py): STARD-train nDCG@10 0.528 (RRF) -> 0.537, chosen weight 0.7 in each of 5 folds
# (held-out 0.537); 0.6-0.8 and min-max scaling all score 0.533-0.537. Cross-script dev query_MRR 0.669 -> 0.708.
SEARCH_DENSE_WEIGHT = 0.7


def reciprocal_rank_fusion(rankings: Sequence[Sequence[int]], k: int = RRF_K, weights: Sequence[float] | None = None) -> list[tuple[int, float]]:
    """(item, fused score) best first: each list adds weight / (k + rank) for every item it ranks."""
    weights = weights or [1.0] * len(rankings)
    fused: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights):
        for rank, item in enumerate(ranking, 1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def z_scores(scored: Sequence[tuple[int, float]]) -> dict[int, float]:
    """Each item's score as a z-score among the list's scores (all 0 when they are all equal)."""
    if not scored:
        return {}
    values = [s for _, s in scored]
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
    if spread < 1e-12:
        return {item: 0.0 for item, _ in scored}
    return {item: (s - mean) / spread for item, s in scored}


def convex_fusion(lists: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float]) -> list[tuple[int, float]]:
    """(item, fused score) best first: Σ weight × the item's z-score in each (item, score) list.

    An item a list did not return counts as that list's lowest z-score (it ranked below all of them).
    """
    return weighted_sum([z_scores(scored) for scored in lists], weights)


def weighted_sum(normalized: Sequence[dict[int, float]], weights: Sequence[float]) -> list[tuple[int, float]]:
    """(item, Σ weight × normalized score) best first; an item missing from a list gets that list's lowest."""
    totals = dict.fromkeys((item for z in normalized for item in z), 0.0)
    for z, w in zip(normalized, weights):  # list by list: no generator per item (a third of the time)
        floor = min(z.values(), default=0.0)
        for item in totals:
            totals[item] += w * z.get(item, floor)
    return sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))


def limit_per_group(items: Iterable[tuple[int, float]], group_of: Callable[[int], str], per_group: int | None, k: int) -> list[tuple[int, float]]:
    """The first k items keeping at most `per_group` of each group (None: no limit)."""
    counts: dict[str, int] = {}
    out = []
    for item, score in items:
        if per_group:
            group = group_of(item)
            if counts.get(group, 0) >= per_group:
                continue
            counts[group] = counts.get(group, 0) + 1
        out.append((item, score))
        if len(out) >= k:
            break
    return out


def level_first_within_groups(items: Sequence[tuple[int, float]], group_of: Callable[[int], str],
                              first: Callable[[int], bool]) -> list[tuple[int, float]]:
    """The same slots, each group's items re-dealt over its own slots with `first` ones before the rest.

    A group (document) keeps the place of its best-ranked item, so grouping shows its `first` (strong) item
    there rather than a higher-ranked lesser one; items keep their own scores.
    """
    slots: dict[str, list[int]] = {}
    members: dict[str, list[tuple[int, float]]] = {}
    for index, item in enumerate(items):
        group = group_of(item[0])
        slots.setdefault(group, []).append(index)
        members.setdefault(group, []).append(item)
    out: list[tuple[int, float]] = list(items)
    for group, indexes in slots.items():
        ordered = sorted(members[group], key=lambda item: not first(item[0]))  # stable: rank kept within a level
        for index, item in zip(indexes, ordered):
            out[index] = item
    return out
