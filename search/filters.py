"""Facet counts over the documents of a query's best passages."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Iterable

from core.filters import LIST_FIELDS, UNKNOWN, Filters
from core.records import DocumentRecord

FACET_FIELDS = ("issuing_body", "region", "year", "doc_type", "script")
__all__ = ["FACET_FIELDS", "LIST_FIELDS", "UNKNOWN", "Filters", "facet_counts", "region_levels"]
PROVINCE = re.compile(r"^(.+?(?:省|自治区|特别行政区))(.+)$")


@lru_cache(maxsize=4096)
def region_levels(region: str) -> tuple[str, ...]:
    """The facet values a region counts for: its province, then the province with its city."""
    m = PROVINCE.match(region or "")
    return (m.group(1), region) if m else ((region,) if region else ())


def facet_counts(docs: Iterable[DocumentRecord], filters: Filters) -> dict[str, list[dict]]:
    """Per facet field, how many of `docs` have each value, counting with the other fields' filters only.

    Counting each field without its own filter lets a user widen a choice as well as narrow it. A value
    that is not known counts as 未知 (years excepted: a year range cannot select it). A city's document
    counts for its province too, so 广东省 shows as many documents as choosing it gives.
    """
    docs = list(docs)
    facets = {}
    for name in FACET_FIELDS:
        others = filters.without(name)
        counts: Counter = Counter()
        for d in docs if not others.active else (d for d in docs if others.admits(d)):
            value = getattr(d, name)
            if name == "region":
                counts.update(region_levels(value) or [UNKNOWN])
            elif value or name != "year":
                counts[value or UNKNOWN] += 1
        facets[name] = [{"value": v, "count": c} for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return facets
