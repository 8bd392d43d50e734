"""What a query answers: ranked hits, grouped per document, with facets; shared by search, compare and the atlas."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from core.filters import Filters
from core.records import DocumentRecord


@dataclass
class Hit:
    """One ranked passage with what a reader needs to judge it."""

    passage_id: str
    doc_id: str
    title: str
    source: str
    heading_path: list[str]
    text: str
    score: float
    matched_terms: list[str]
    highlights: list[tuple[int, int]]
    kind: str
    issuing_body: str
    region: str
    year: str
    doc_type: str
    script: str
    published: str = ""
    explain: dict | None = None  # bm25_rank, dense_rank, fused score: only when asked for
    match: str | None = None  # strong | weak | None (search/match.py)

    def to_json(self) -> dict:
        """JSON-ready dict."""
        data = asdict(self)
        data["highlights"] = [list(span) for span in self.highlights]
        if data["explain"] is None:
            del data["explain"]
        return data


@dataclass
class SearchResult:
    """Ranked hits, with the same hits grouped per document in rank order."""

    hits: list[Hit]
    query: str = ""
    version: str = ""
    groups: list[dict] = field(default_factory=list)
    facets: dict = field(default_factory=dict)
    filters: Filters = field(default_factory=Filters)
    total: int = 0  # passages of the whole ranked list (after the per-document limit); `hits` is one page of it
    offset: int = 0  # where `hits` starts in that list
    min_match: str = "any"
    did_you_mean: str | None = None  # a close corpus word when nothing matched
    absent: list[dict] | None = None  # compare: the documents (or bodies) in scope that do not address it
    excluded: list[str] = field(default_factory=list)  # search: the query's -词 (no hit contains them)

    def to_json(self) -> dict:
        """The API's answer shape."""
        data = {
            "query": self.query, "version": self.version, "count": len(self.hits), "total": self.total,
            "offset": self.offset, "filters": self.filters.to_json(),
            "results": [h.to_json() for h in self.hits], "groups": self.groups, "facets": self.facets,
            "min_match": self.min_match, "did_you_mean": self.did_you_mean, "excluded": self.excluded,
        }
        if self.absent is not None:
            data["absent"] = self.absent
        return data


def document_summary(doc: DocumentRecord) -> dict:
    """Metadata of a document for listings."""
    return {
        "doc_id": doc.doc_id, "title": doc.display_title, "source": doc.name, "issuing_body": doc.issuing_body,
        "region": doc.region, "year": doc.year, "doc_type": doc.doc_type, "script": doc.script,
        "published": doc.published, "passages": doc.n_passages,
    }


def group_by_document(hits: list[Hit]) -> list[dict]:
    """Hits gathered under their document, documents in the order of their best hit."""
    groups: dict[str, dict] = {}
    for hit in hits:
        group = groups.setdefault(hit.doc_id, {
            "doc_id": hit.doc_id, "title": hit.title, "source": hit.source, "issuing_body": hit.issuing_body,
            "year": hit.year, "script": hit.script, "passage_ids": [],
        })
        group["passage_ids"].append(hit.passage_id)
    return list(groups.values())
