"""SearchEngine: hybrid search and find-similar over one published index version."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from indexer.boilerplate import strip_boilerplate
from indexer.model import Encoder, configured_model_name
from indexer.normalize import matching_form, tokenize, tokenize_query
from indexer.pipeline import check_model, check_model_name
from indexer.backend import IndexStorage, open_storage
from indexer.store import DocumentRecord, PassageRecord

from .filters import Filters, facet_counts
from .fusion import BM25_WEIGHT, DENSE_WEIGHT, RRF_K, limit_per_group, reciprocal_rank_fusion
from .find_similar import resolve_source, similar_ranked
from .highlight import highlight_spans
from .reader import IndexReader, open_reader
from .rerank import SimilarConfig

CANDIDATES = 200  # per retriever, before fusion
SIMILAR_HIGHLIGHT_TERMS = 3  # find-similar marks the rarest words a hit shares with the source, not all
MAX_K = 100
MODES = ("hybrid", "bm25", "dense")
FACET_CANDIDATES = 100  # facet counts cover the documents of this many best passages
COMPARE_BY = ("document", "issuing_body")
QUERY_CACHE_SIZE = 2048  # query embeddings kept (1.5 KB each)


class NotFoundError(LookupError):
    """A passage or document id that the index does not hold."""


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

    def to_json(self) -> dict:
        """The API's answer shape."""
        return {
            "query": self.query, "version": self.version, "count": len(self.hits), "filters": self.filters.to_json(),
            "results": [h.to_json() for h in self.hits], "groups": self.groups, "facets": self.facets,
        }


class SearchEngine:
    """Loads the current index version and the matching model; answers search and find-similar."""

    def __init__(
        self, index: Path | str | IndexStorage, encoder: Encoder | None = None, model_name: str | None = None,
    ) -> None:
        self.storage = open_storage(index)
        self.index_dir = self.storage.location
        self._encoder = encoder
        self._model_name = configured_model_name(model_name) if encoder is None else encoder.name
        self._state = open_reader(self.storage)
        self._check_model(self._state)
        self._reload_lock = threading.Lock()
        self._checked = time.monotonic()  # when refresh last asked the storage for its version
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.similar_config = SimilarConfig()  # find-similar's levers (issue 12); LEGACY is the old product

    # -- loading -----------------------------------------------------------------------------
    def _check_model(self, state: IndexReader) -> None:
        check_model_name(state.model, self._model_name, self.index_dir)
        if self._encoder is not None:
            check_model(state.model, self._encoder.info, self.index_dir)

    @property
    def encoder(self) -> Encoder:
        """The query encoder, loaded on first use and checked against the index."""
        if self._encoder is None:
            encoder = Encoder(self._model_name)
            check_model(self._state.model, encoder.info, self.index_dir)
            self._encoder = encoder
        return self._encoder

    def refresh(self, max_age: float = 0.0) -> bool:
        """Switch to a newer published version if there is one; True when it switched.

        With `max_age`, the storage is asked at most that often (Milvus: one query per check).
        """
        now = time.monotonic()
        if max_age and now - self._checked < max_age:
            return False
        self._checked = now
        if self.storage.current_version() in (None, self._state.version):
            return False
        with self._reload_lock:
            if self.storage.current_version() in (None, self._state.version):
                return False
            state = open_reader(self.storage)
            self._check_model(state)
            self._state = state
        return True

    # -- queries -----------------------------------------------------------------------------
    def search(
        self, query: str, k: int = 10, per_doc: int | None = None, mode: str = "hybrid",
        filters: Filters | None = None, explain: bool = False,
    ) -> SearchResult:
        """BM25 and dense rankings fused by RRF (or one of them alone), at most `per_doc` passages a document."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        query, tokens, vector = self._prepare(query, encode=mode != "bm25")
        return self._ranked(
            self._state, tokens, vector, k, per_doc, query=query, mode=mode, filters=filters, explain=explain,
        )

    def _prepare(self, query: str, encode: bool = True) -> tuple[str, list[str], np.ndarray | None]:
        """A typed query's cleaned text, BM25 tokens and (when asked) embedding."""
        query = (query or "").strip()
        if not query:
            raise ValueError("query is empty")
        vector = self._query_vector(matching_form(query)) if encode else None
        return query, tokenize_query(query), vector

    def _query_vector(self, normalized: str) -> np.ndarray:
        """The query's embedding, from a small LRU cache: paging and facet clicks repeat the same query."""
        with self._cache_lock:
            vector = self._query_cache.get(normalized)
            if vector is not None:
                self._query_cache.move_to_end(normalized)
                return vector
        vector = self.encoder.encode_queries([normalized])[0]
        with self._cache_lock:
            self._query_cache[normalized] = vector
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        return vector

    def similar(
        self, passage_id: str | None = None, text: str | None = None, k: int = 10, per_doc: int | None = 1,
        filters: Filters | None = None, explain: bool = False, doc_id: str | None = None,
        include_same_doc: bool = False, config: SimilarConfig | None = None,
    ) -> SearchResult:
        """Passages most like a stored passage or a selected text, from other documents unless asked.

        `doc_id` names the document a text was selected from; `include_same_doc` also admits that document's
        other passages. The source passage itself is never returned.
        """
        config = config or self.similar_config
        if not config.legacy:
            return self._similar_staged(passage_id, text, k, per_doc, filters, explain, doc_id, include_same_doc,
                                        config)
        state = self._state
        exclude_doc = None
        if passage_id:
            pos = state.passage_pos.get(passage_id)
            if pos is None:
                raise NotFoundError(f"no passage {passage_id!r} in the index")
            record = state.passage_at(pos)
            vector, tokens, exclude_doc, label = state.vector_at(pos), record.tokens, record.doc_id, record.text
        elif text and text.strip():
            label = text.strip()
            core = strip_boilerplate(matching_form(label))  # formulas must not decide what is similar
            vector = self.encoder.encode_passages([core])[0]
            tokens = tokenize(core)
        else:
            raise ValueError("give a passage_id or a non-empty text")
        return self._ranked(
            state, tokens, vector, k, per_doc, query=label, filters=filters, exclude_doc=exclude_doc,
            shared_marks=True, explain=explain,
        )

    def _similar_staged(
        self, passage_id, text, k, per_doc, filters, explain, doc_id, include_same_doc, config: SimilarConfig,
    ) -> SearchResult:
        """find-similar in two stages (search/find_similar.py): one answer from an id or from its text."""
        state = self._state
        k = max(1, min(int(k), MAX_K))
        filters = filters or Filters()
        if not passage_id and not (text and text.strip()):
            raise ValueError("give a passage_id or a non-empty text")
        try:
            source = resolve_source(state, self._passage_vector, passage_id, text, doc_id)
        except LookupError:
            raise NotFoundError(f"no passage {passage_id!r} in the index") from None
        rows, unfiltered = similar_ranked(state, source, k, per_doc, filters, config, include_same_doc, explain)
        facet_docs = {state.doc_of_pos[pos] for pos, _ in unfiltered[:FACET_CANDIDATES]}
        facets = facet_counts((state.documents[d] for d in facet_docs), filters)
        hits = []
        for row, record in zip(rows, state.passages_at([r.pos for r in rows])):
            hit = self._hit(state, record, row.score, row.marks, None, None)
            hit.explain = row.explain if explain else None
            hits.append(hit)
        return SearchResult(
            hits, query=source.label, version=state.manifest["version"], groups=group_by_document(hits),
            facets=facets, filters=filters,
        )

    def _passage_vector(self, normalized: str) -> np.ndarray:
        """A selected text's passage embedding, cached like query embeddings (the page repeats requests)."""
        key = "\x00passage:" + normalized
        with self._cache_lock:
            vector = self._query_cache.get(key)
            if vector is not None:
                self._query_cache.move_to_end(key)
                return vector
        vector = self.encoder.encode_passages([normalized])[0]
        with self._cache_lock:
            self._query_cache[key] = vector
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        return vector

    def _fused(
        self, state: IndexReader, tokens: list[str], vector: np.ndarray | None, mode: str, filters: Filters,
        exclude_doc: str | None, per_doc: int | None = None,
    ) -> tuple[list[tuple[int, float]], dict[int, int], dict[int, int]]:
        """Fused (position, score) list and each retriever's rank of every position it returned.

        Dense-only search with a per-document limit lets the backend group (Milvus: group_by_field); with
        fusion the grouping must follow it, so it happens in `_ranked` for both backends.
        """
        lexical = state.lexical_top(tokens, CANDIDATES, filters, exclude_doc) if mode != "dense" else []
        grouped = per_doc if mode == "dense" else None
        dense = state.dense_top(vector, CANDIDATES, filters, exclude_doc, grouped) if mode != "bm25" else []
        weighted = [(r, w) for r, w in ((lexical, BM25_WEIGHT), (dense, DENSE_WEIGHT)) if r]
        fused = reciprocal_rank_fusion([r for r, _ in weighted], weights=[w for _, w in weighted])
        return fused, {p: r for r, p in enumerate(lexical, 1)}, {p: r for r, p in enumerate(dense, 1)}

    def _ranked(
        self, state: IndexReader, tokens: list[str], vector: np.ndarray | None, k: int, per_doc: int | None,
        query: str, mode: str = "hybrid", filters: Filters | None = None, exclude_doc: str | None = None,
        shared_marks: bool = False, explain: bool = False, group_of=None,
    ) -> SearchResult:
        k = max(1, min(int(k), MAX_K))
        filters = filters or Filters()
        per_group = per_doc if group_of is None else None  # backends group by document only
        fused, lex_rank, dense_rank = self._fused(state, tokens, vector, mode, Filters(), exclude_doc, per_group)
        facet_docs = {state.doc_of_pos[pos] for pos, _ in fused[:FACET_CANDIDATES]}
        facets = facet_counts((state.documents[d] for d in facet_docs), filters)
        if filters.active:
            fused, lex_rank, dense_rank = self._fused(state, tokens, vector, mode, filters, exclude_doc, per_group)
        chosen = limit_per_group(fused, group_of or (lambda pos: state.doc_of_pos[pos]), per_doc, k)
        records = state.passages_at([pos for pos, _ in chosen])
        hits = [
            self._hit(state, record, score, tokens, lex_rank.get(pos), dense_rank.get(pos), shared_marks, explain)
            for (pos, score), record in zip(chosen, records)
        ]
        return SearchResult(
            hits, query=query, version=state.manifest["version"], groups=group_by_document(hits), facets=facets,
            filters=filters,
        )

    def compare(self, query: str, by: str = "document", filters: Filters | None = None, limit: int = 50) -> SearchResult:
        """The best passage of each document (or issuing body) for one topic, most relevant first."""
        if by not in COMPARE_BY:
            raise ValueError(f"by must be one of {', '.join(COMPARE_BY)}")
        query, tokens, vector = self._prepare(query)
        state = self._state

        def group_of(pos: int) -> str:
            doc = state.documents[state.doc_of_pos[pos]]
            return (doc.issuing_body or doc.doc_id) if by == "issuing_body" else doc.doc_id

        return self._ranked(
            state, tokens, vector, limit, 1, query=query, filters=filters, group_of=group_of,
        )

    def _hit(
        self, state: IndexReader, p: PassageRecord, score: float, tokens: list[str], bm25_rank, dense_rank,
        shared_marks: bool = False, explain: bool = False,
    ) -> Hit:
        doc = state.documents[p.doc_id]
        if shared_marks:  # find-similar: only the rarest words this hit shares with the source
            tokens = state.distinctive(set(tokens) & set(p.tokens), SIMILAR_HIGHLIGHT_TERMS)
        spans, terms = highlight_spans(p.text, tokens)
        return Hit(
            passage_id=p.passage_id, doc_id=p.doc_id, title=doc.display_title, source=doc.name,
            heading_path=p.heading_path, text=p.text, score=round(float(score), 6), matched_terms=terms,
            highlights=spans, kind=p.kind, issuing_body=doc.issuing_body, region=doc.region, year=doc.year,
            doc_type=doc.doc_type, script=doc.script, published=doc.published,
            explain={"bm25_rank": bm25_rank, "dense_rank": dense_rank, "fused_score": round(float(score), 6),
                     "rrf_k": RRF_K, "bm25_weight": BM25_WEIGHT, "dense_weight": DENSE_WEIGHT} if explain else None,
        )

    # -- records -----------------------------------------------------------------------------
    def passage(self, passage_id: str) -> dict:
        """One passage with its document's metadata."""
        state = self._state
        pos = state.passage_pos.get(passage_id)
        if pos is None:
            raise NotFoundError(f"no passage {passage_id!r} in the index")
        record = state.passage_at(pos)
        hit = self._hit(state, record, 0.0, [], None, None).to_json()
        for key in ("score", "matched_terms", "highlights"):
            hit.pop(key)
        hit.update(start=record.start, end=record.end, ordinal=record.ordinal)
        return hit

    def documents(self) -> list[dict]:
        """Every document's metadata (no text), by name."""
        return [document_summary(d) for d in sorted(self._state.documents.values(), key=lambda d: d.name)]

    def document(self, doc_id: str) -> dict:
        """A document's metadata, full cleaned text and passages (with spans)."""
        state = self._state
        doc = state.documents.get(doc_id)
        if doc is None:
            raise NotFoundError(f"no document {doc_id!r} in the index")
        passages = state.document_passages(doc_id)
        return {
            **document_summary(doc), "text": doc.text,
            "passages": [
                {"passage_id": p.passage_id, "start": p.start, "end": p.end, "heading_path": p.heading_path,
                 "kind": p.kind}
                for p in passages
            ],
        }

    def health(self) -> dict:
        """Index version, sizes and model, for monitoring."""
        m = self._state.manifest
        return {
            "status": "ok", "version": m["version"], "documents": m["documents"], "passages": m["passages"],
            "model": {"name": m["model"]["name"], "dim": m["model"]["dim"], "fingerprint": m["model"]["fingerprint"]},
        }


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
