"""Metadata filters (issuing body, region, year range, type, script) and facet counts."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, replace
from typing import Iterable

from indexer.normalize import to_simplified
from indexer.store import DocumentRecord

FACET_FIELDS = ("issuing_body", "region", "year", "doc_type", "script")
LIST_FIELDS = ("issuing_body", "region", "doc_type", "script")
UNKNOWN = "未知"  # the facet value (and filter value) of a document whose field is not known
PROVINCE = re.compile(r"^(.+?(?:省|自治区|特别行政区))(.+)$")


def region_levels(region: str) -> list[str]:
    """The facet values a region counts for: its province, then the province with its city."""
    m = PROVINCE.match(region or "")
    return [m.group(1), region] if m else ([region] if region else [])


@dataclass(frozen=True)
class Filters:
    """What a user narrowed to; values of one field are alternatives (OR), fields combine (AND)."""

    issuing_body: tuple[str, ...] = ()
    region: tuple[str, ...] = ()
    doc_type: tuple[str, ...] = ()
    script: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None

    @property
    def active(self) -> bool:
        """True when anything is filtered."""
        return any(getattr(self, f) for f in LIST_FIELDS) or self.year_from is not None or self.year_to is not None

    def without(self, field_name: str) -> "Filters":
        """The same filters minus one facet field (for that field's own counts)."""
        if field_name == "year":
            return replace(self, year_from=None, year_to=None)
        return replace(self, **{field_name: ()})

    def admits(self, doc: DocumentRecord) -> bool:
        """Whether a document passes every filter (a region matches by prefix, so 广东省 covers its cities)."""
        if self.issuing_body and to_simplified(doc.issuing_body or UNKNOWN) not in {to_simplified(v) for v in self.issuing_body}:
            return False
        if self.region and not any(
            (doc.region.startswith(to_simplified(v)) if v != UNKNOWN else not doc.region) for v in self.region
        ):
            return False
        if self.doc_type and (doc.doc_type or UNKNOWN) not in self.doc_type:
            return False
        if self.script and (doc.script or UNKNOWN) not in self.script:
            return False
        if self.year_from is not None or self.year_to is not None:
            if not doc.year.isdigit():
                return False
            year = int(doc.year)
            if (self.year_from is not None and year < self.year_from) or (self.year_to is not None and year > self.year_to):
                return False
        return True

    def to_json(self) -> dict:
        """Only the fields in use."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v not in ((), None)}


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
        for d in docs:
            if not others.admits(d):
                continue
            value = getattr(d, name)
            if name == "region":
                counts.update(region_levels(value) or [UNKNOWN])
            elif value or name != "year":
                counts[value or UNKNOWN] += 1
        facets[name] = [{"value": v, "count": c} for v, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return facets
