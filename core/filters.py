"""Metadata filters (issuing body, region, year range, type, script): a frozen value, usable as a cache key."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .records import DocumentRecord
from .textform import to_simplified

LIST_FIELDS = ("issuing_body", "region", "doc_type", "script")
UNKNOWN = "未知"  # the facet value (and filter value) of a document whose field is not known


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
        """Whether a document passes every filter (a region matches by prefix, so 广东省 covers its cities;
        未知 selects the documents whose field is not known)."""
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

