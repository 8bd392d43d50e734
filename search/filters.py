"""Facet counts over the documents of a query's best passages."""

from __future__ import annotations

from collections import Counter
from typing import Iterable

from core.filters import LIST_FIELDS, Filters
from core.records import DocumentRecord

FACET_FIELDS = ("issuing_body", "region", "year", "doc_type", "script")
__all__ = ["FACET_FIELDS", "LIST_FIELDS", "Filters", "facet_counts"]


def facet_counts(docs: Iterable[DocumentRecord], filters: Filters) -> dict[str, list[dict]]:
    """Per facet field, how many of `docs` have each value, counting with the other fields' filters only.

    Counting each field without its own filter lets a user widen a choice as well as narrow it.
    """
    docs = list(docs)
    facets = {}
    for name in FACET_FIELDS:
        others = filters.without(name)
        counts = Counter(getattr(d, name) for d in docs if getattr(d, name) and others.admits(d))
        facets[name] = [{"value": v, "count": c} for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return facets
