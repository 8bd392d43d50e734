"""SearchEngine: hybrid search and find-similar over one published index version."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from core.boilerplate import strip_boilerplate
from core.errors import NotFoundError
from core.filters import Filters
from core.model import Encoder, check_model, check_model_name
from core.records import PassageRecord
from core.settings import Settings
from core.storage import IndexReader, IndexStorage, open_storage, prepare_retrieval_thread
from core.textform import matching_form, to_simplified, tokenize, tokenize_query

from .filters import facet_counts
from .fusion import (RRF_K, SEARCH_DENSE_WEIGHT, level_first_within_groups, limit_per_group, reciprocal_rank_fusion,
                     weighted_sum, z_scores)
from .find_similar import resolve_source, similar_ranked
from .highlight import grow_to_shared, highlight_spans
from .results import Hit, SearchResult, document_summary, group_by_document
from . import aliases, exclusions
from . import match as matching
from .atlas import compare_rows  # with a match cut, compare shows the atlas's verdict per document
from .rerank import SimilarConfig

CANDIDATES = 200  # per retriever, before fusion
SIMILAR_HIGHLIGHT_TERMS = 3  # find-similar marks the rarest words a hit shares with the source, not all
MAX_K = 100
MODES = ("hybrid", "bm25", "dense")
FACET_CANDIDATES = 100  # facet counts cover the documents of this many best passages
COMPARE_BY = ("document", "issuing_body")
SORTS = ("relevance", "date", "region", "body")  # the order of a result list; each but relevance keeps rank within ties
QUERY_CACHE_SIZE = 2048  # query embeddings kept (1.5 KB each)
WARM_QUERY = "依法行政"  # any query: it loads the encoder, BM25 and FAISS pages before the first user does
DISTINCTIVE_MAX_SHARE = 0.1  # a word in more than this share of passages is too common to mark as shared
MATCH_CANDIDATES = 300  # with a min_match cut, the match level is computed for this many best fused passages
# Where the reader says both retrievers are slow enough (overlap_retrieval: an IVF index) and no other search
# runs in the process, a hybrid search runs its dense retrieval on a pool thread while BM25 scores on the
# caller's: FAISS, the re-rank's preads and BM25's numpy loops release the GIL, so the two overlap on an idle
# core. Under load the cores are taken and the hand-offs cost: at 1M, 16 clients, always overlapping gave
# 18–19 req/s against 21 in turn. Measured: docs/benchmarks.md, "The query path at 1M, third pass".
RETRIEVAL_THREADS = 4
_RETRIEVAL_POOL = ThreadPoolExecutor(max_workers=RETRIEVAL_THREADS, thread_name_prefix="fazhi-dense",
                                     initializer=prepare_retrieval_thread)
STRONG_FIRST = False  # True: with a cut, strong passages before weak ones (wr-queries +0.03 MRR, STARD -0.009 nDCG@10)

__all__ = ["Hit", "NotFoundError", "SearchEngine", "SearchResult", "distinctive"]


class SearchEngine:
    """Loads the current index version and the matching model; answers search and find-similar."""

    def __init__(
        self, index: Path | str | IndexStorage | Settings, encoder: Encoder | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or (index if isinstance(index, Settings) else Settings())
        self.storage = open_storage(index)
        self.index_dir = self.storage.location
        self._encoder = encoder
        self._model_name = self.settings.model if encoder is None else encoder.name
        aliases.configure(self.settings.aliases or None)
        self._state = self.storage.open_reader()
        self._check_model(self._state)
        self._reload_lock = threading.Lock()
        self._checked = time.monotonic()  # when refresh last asked the storage for its version
        self._query_cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._busy = 0  # searches running in this process now (overlap the retrievers only when one is)
        self._busy_lock = threading.Lock()
        self.similar_config = SimilarConfig()  # find-similar's levers (issue 12); LEGACY is the old product
        self.ready = False  # True once warm(): the encoder is loaded and a query has run end to end
        self.serving = False  # True in a server: the encoder runs each call on one core (serve_requests)

    def warm(self) -> None:
        """Load the encoder and run one search and one find-similar through every stage, so no user request
        pays for that."""
        self.search(WARM_QUERY, k=1)
        if len(self._state.doc_of_pos):  # find-similar's own first-use costs (OpenCC phrase tables, its stages)
            self.similar(passage_id=self._state.passage_at(0).passage_id, k=1)
        self.ready = True

    def serve_requests(self) -> None:
        """This engine answers a server's concurrent requests: its encoder runs each call on one core."""
        self.serving = True
        if self._encoder is not None and hasattr(self._encoder, "serve_requests"):  # test encoders have no cores
            self._encoder.serve_requests()

    # -- loading -----------------------------------------------------------------------------
    def _check_model(self, state: IndexReader) -> None:
        check_model_name(state.model, self._model_name, self.index_dir)
        if self._encoder is not None:
            check_model(state.model, self._encoder.info, self.index_dir)

    @property
    def encoder(self) -> Encoder:
        """The query encoder, loaded on first use and checked against the index."""
        if self._encoder is None:
            encoder = Encoder.from_settings(self.settings)
            check_model(self._state.model, encoder.info, self.index_dir)
            if self.serving:
                encoder.serve_requests()
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
            state = self.storage.open_reader()
            self._check_model(state)
            self._state = state
        return True

    # -- queries -----------------------------------------------------------------------------
    def search(
        self, query: str, k: int = 10, per_doc: int | None = None, mode: str = "hybrid",
        filters: Filters | None = None, explain: bool = False, offset: int = 0, sort: str = "relevance",
        min_match: str = "weak",
    ) -> SearchResult:
        """BM25 and dense rankings fused by RRF (or one of them alone), at most `per_doc` passages a document.

        Only passages of at least `min_match` (strong | weak | any) are returned; every hit carries its level.
        `offset` and `k` cut one page out of the whole list (`total` says how long it is); `sort` orders the
        list by relevance, or by date (newest first), region or issuing body, documents kept together.
        """
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}")
        if sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}")
        matching.check_min_match(min_match)
        typed = (query or "").strip()
        query, excluded = exclusions.split(typed)
        if excluded and not query:  # only exclusions: nothing to rank, so nothing rather than everything
            return SearchResult([], query=typed, version=self._state.version, filters=filters or Filters(),
                                min_match=min_match, excluded=excluded)
        # BM25 alone needs no embedding, unless a match cut does (its dense features)
        query, tokens, vector = self._prepare(query, encode=mode != "bm25" or min_match != "any")
        mq = self._match_query(query, vector)
        tokens = tokens + [t for t in tokenize_query(" ".join(mq.aliases)) if t not in tokens]
        state = self._state
        banned = exclusions.positions(matching.passage_table(state), excluded) if excluded else None
        with self._running():
            result = self._ranked(
                state, tokens, vector if mode != "bm25" else None, k, per_doc, query=query, mode=mode,
                filters=filters, explain=explain, mq=mq, min_match=min_match, offset=max(0, int(offset)),
                sort=sort, banned=banned,
            )
        result.query, result.excluded = typed, excluded
        return result

    @contextmanager
    def _running(self) -> Iterator[None]:
        """Count a search as running in this process for as long as the block lasts."""
        with self._busy_lock:
            self._busy += 1
        try:
            yield
        finally:
            with self._busy_lock:
                self._busy -= 1

    def _match_query(self, query: str, vector: np.ndarray | None) -> "matching.MatchQuery":
        """The query as the match levels see it: words, phrases, quoted phrases, aliases, embedding."""
        mq = matching.analyze(query)
        mq.vector = vector
        return mq

    def _prepare(self, query: str, encode: bool = True) -> tuple[str, list[str], np.ndarray | None]:
        """A typed query's cleaned text, BM25 tokens and (when asked) embedding."""
        query = (query or "").strip()
        if not query:
            raise ValueError("query is empty")
        vector = self._query_vector(matching_form(query)) if encode else None
        return query, tokenize_query(query), vector

    def _query_vector(self, normalized: str) -> np.ndarray:
        """The query's embedding, from a small LRU cache: paging and facet clicks repeat the same query."""
        return self._cached(normalized, lambda: self.encoder.encode_queries([normalized])[0])

    def _cached(self, key: str, embed) -> np.ndarray:
        """An embedding from the LRU cache, or `embed()`'s, kept there."""
        with self._cache_lock:
            vector = self._query_cache.get(key)
            if vector is not None:
                self._query_cache.move_to_end(key)
                return vector
        vector = embed()
        with self._cache_lock:
            self._query_cache[key] = vector
            while len(self._query_cache) > QUERY_CACHE_SIZE:
                self._query_cache.popitem(last=False)
        return vector

    def similar(
        self, passage_id: str | None = None, text: str | None = None, k: int = 10, per_doc: int | None = 1,
        filters: Filters | None = None, explain: bool = False, min_match: str = "any", doc_id: str | None = None,
        include_same_doc: bool = False, config: SimilarConfig | None = None,
    ) -> SearchResult:
        """Passages most like a stored passage or a selected text, from other documents unless asked.

        `doc_id` names the document a text was selected from; `include_same_doc` also admits that document's
        other passages. The source passage itself is never returned. Hits carry a match level against the
        source's text (calibrated on short queries, so indicative here); `min_match` strong | weak drops the
        others.
        """
        matching.check_min_match(min_match)
        config = config or self.similar_config
        if not config.legacy:
            with self._running():  # a search beside it does not overlap its retrievers
                return self._similar_staged(passage_id, text, k, per_doc, filters, explain, doc_id,
                                            include_same_doc, config, min_match)
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
        mq = matching.analyze(label[:200], use_alias_file=False)
        mq.vector = vector
        return self._ranked(
            state, tokens, vector, k, per_doc, query=label, filters=filters, exclude_doc=exclude_doc,
            shared_marks=True, explain=explain, mq=mq, min_match=min_match,
        )

    def _similar_staged(
        self, passage_id, text, k, per_doc, filters, explain, doc_id, include_same_doc, config: SimilarConfig,
        min_match: str = "any",
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
        mq = matching.analyze(source.label[:200], use_alias_file=False)  # the match level against the source
        mq.vector = source.vector
        levels = matching.passage_levels(state, mq, [r.pos for r in rows])
        rows = [r for r in rows if matching.admits(levels[r.pos][0], min_match)]
        hits = []
        for row, record in zip(rows, state.passages_at([r.pos for r in rows])):
            level = levels.get(row.pos)
            hit = self._hit(state, record, row.score, row.marks, None, None, level=level)
            hit.highlights, hit.matched_terms = grow_to_shared(record.text, hit.highlights, source.body)
            hit.explain = {**row.explain, "match_p": round(level[1], 4) if level else None} if explain else None
            hits.append(hit)
        return SearchResult(
            hits, query=source.label, version=state.version, groups=group_by_document(hits),
            facets=facets, filters=filters, min_match=min_match,
        )

    def _passage_vector(self, normalized: str) -> np.ndarray:
        """A selected text's passage embedding, cached like query embeddings (the page repeats requests)."""
        return self._cached("\x00passage:" + normalized, lambda: self.encoder.encode_passages([normalized])[0])

    def _fused(
        self, state: IndexReader, tokens: list[str], vector: np.ndarray | None, mode: str, filters: Filters,
        exclude_doc: str | None, per_doc: int | None = None,
    ) -> tuple[list[tuple[int, float]], dict[int, int], dict[int, int], Callable[[int], dict], dict[int, float]]:
        """Fused (position, score) list, each retriever's rank of every position it returned, how a
        position's fused score came about (for explain), and the dense retriever's cosines (the match levels
        read them instead of the vectors).

        Dense-only search with a per-document limit lets the backend group (Milvus: group_by_field); with
        fusion the grouping must follow it, so it happens in `_ranked` for both backends.
        """
        if mode == "hybrid":  # scores fused (search/fusion.py)
            if getattr(state, "overlap_retrieval", False) and self._busy <= 1:
                scored, near = both_ranked(state, tokens, vector, filters, exclude_doc)
            else:
                scored = state.lexical_ranked(tokens, CANDIDATES, filters, exclude_doc)
                near = state.dense_ranked(vector, CANDIDATES, filters, exclude_doc)
            weights = (1 - SEARCH_DENSE_WEIGHT, SEARCH_DENSE_WEIGHT)
            bm25_z, dense_z = z_scores(scored), z_scores(near)  # once: the fusion and explain both read them
            fused = weighted_sum([bm25_z, dense_z], weights)
            lexical, dense = [p for p, _ in scored], [p for p, _ in near]
            cosines = dict(near)
            floors = (min(bm25_z.values(), default=0.0), min(dense_z.values(), default=0.0))

            def how(pos: int) -> dict:
                return {"fusion": "convex", "bm25_weight": round(weights[0], 6), "dense_weight": weights[1],
                        "bm25_z": round(bm25_z.get(pos, floors[0]), 6), "dense_z": round(dense_z.get(pos, floors[1]), 6)}
        else:  # one list: its own order (dense grouped per document by the backend where asked)
            if mode == "bm25":
                lexical, dense = state.lexical_top(tokens, CANDIDATES, filters, exclude_doc), []
            else:
                lexical, dense = [], state.dense_top(vector, CANDIDATES, filters, exclude_doc, per_doc)
            fused, cosines = reciprocal_rank_fusion([lexical or dense]), {}

            def how(pos: int) -> dict:
                return {"fusion": "rank", "rrf_k": RRF_K}
        return fused, {p: r for r, p in enumerate(lexical, 1)}, {p: r for r, p in enumerate(dense, 1)}, how, cosines

    def _ranked(
        self, state: IndexReader, tokens: list[str], vector: np.ndarray | None, k: int, per_doc: int | None,
        query: str, mode: str = "hybrid", filters: Filters | None = None, exclude_doc: str | None = None,
        shared_marks: bool = False, explain: bool = False, group_of=None, mq=None, min_match: str = "any",
        offset: int = 0, sort: str = "relevance", banned: np.ndarray | None = None,
    ) -> SearchResult:
        """One page of hits (see search); `banned`: positions never returned (a query's exclusions)."""
        k = max(1, min(int(k), MAX_K))
        filters = filters or Filters()
        per_group = per_doc if group_of is None else None  # backends group by document only
        levels: dict[int, tuple[str | None, float]] = {}
        cosines: dict[int, float] = {}  # the dense retriever's scores: the match levels need not read those vectors
        cut = mq is not None and min_match != "any"

        def matched(ranked):  # with a cut: only passages of that level, in fused order
            if not cut:
                return ranked
            head = ranked[:MATCH_CANDIDATES]
            levels.update(matching.passage_levels(
                state, mq, [p for p, _ in head if p not in levels], known_cosines=cosines))
            kept = [(p, s) for p, s in head if matching.admits(levels[p][0], min_match)]
            if not STRONG_FIRST:
                return kept
            return sorted(kept, key=lambda ps: (levels[ps[0]][0] != "strong", -ps[1], ps[0]))

        fused, lex_rank, dense_rank, how, found = self._fused(
            state, tokens, vector, mode, Filters(), exclude_doc, per_group)
        cosines.update(found)
        fused = matched(exclusions.without(fused, banned) if banned is not None else fused)
        facet_docs = {state.doc_of_pos[pos] for pos, _ in fused[:FACET_CANDIDATES]}
        facets = facet_counts((state.documents[d] for d in facet_docs), filters)
        if filters.active:
            fused, lex_rank, dense_rank, how, found = self._fused(
                state, tokens, vector, mode, filters, exclude_doc, per_group)
            cosines.update(found)
            fused = matched(exclusions.without(fused, banned) if banned is not None else fused)
        group = group_of or (lambda pos: state.doc_of_pos[pos])
        if cut and per_doc:  # a document's row shows its strong passage, at the place of its best one
            fused = level_first_within_groups(fused, group, lambda pos: levels[pos][0] == "strong")
        ranked = limit_per_group(fused, group, per_doc, len(fused) or 1)
        if sort != "relevance":
            ranked = sorted_by(state, ranked, sort)
        chosen = ranked[offset : offset + k]
        if mq is not None and not cut:
            levels.update(matching.passage_levels(state, mq, [p for p, _ in chosen], known_cosines=cosines))
        records = state.passages_at([pos for pos, _ in chosen])
        marks, phrases = tokens, ()
        if mq is not None and not shared_marks:  # the query's phrases and words; an alias is marked whole only
            own = set(tokenize_query(mq.text))  # (公职律师, never its 律师 alone)
            marks, phrases = mq.highlight_terms + [t for t in tokens if t in own], mq.phrases
        hits = [
            self._hit(state, record, score, marks, lex_rank.get(pos), dense_rank.get(pos), shared_marks, explain,
                      levels.get(pos), how(pos) if explain else None, phrases)
            for (pos, score), record in zip(chosen, records)
        ]
        result = SearchResult(
            hits, query=query, version=state.version, groups=group_by_document(hits), facets=facets,
            filters=filters, total=len(ranked), offset=offset, min_match=min_match,
        )
        if cut and not shared_marks and not any(h.match == "strong" for h in hits):
            result.did_you_mean = matching.did_you_mean(state, query)  # nothing addresses it: a typo?
        return result

    def compare(self, query: str, by: str = "document", filters: Filters | None = None, limit: int = 50,
                min_match: str = "weak") -> SearchResult:
        """The best passage of each document (or issuing body) for one topic, most relevant first.

        With a min_match cut the rows are the documents that address it (strong, then weak), each with its
        best passage, and `absent` lists the others in scope (未提及), from the same judgement as the atlas.
        """
        if by not in COMPARE_BY:
            raise ValueError(f"by must be one of {', '.join(COMPARE_BY)}")
        matching.check_min_match(min_match)
        query, tokens, vector = self._prepare(query)
        state = self._state
        if min_match != "any":
            return compare_rows(self, state, query, by, filters or Filters(), limit, min_match)

        def group_of(pos: int) -> str:
            doc = state.documents[state.doc_of_pos[pos]]
            return (doc.issuing_body or doc.doc_id) if by == "issuing_body" else doc.doc_id

        with self._running():
            return self._ranked(state, tokens, vector, limit, 1, query=query, filters=filters, group_of=group_of)

    def _hit(
        self, state: IndexReader, p: PassageRecord, score: float, tokens: list[str], bm25_rank, dense_rank,
        shared_marks: bool = False, explain: bool = False, level: tuple[str | None, float] | None = None,
        fusion: dict | None = None, phrases: Sequence[str] = (),
    ) -> Hit:
        doc = state.documents[p.doc_id]
        if shared_marks:  # find-similar: only the rarest words this hit shares with the source
            tokens = distinctive(state, set(tokens) & set(p.tokens), SIMILAR_HIGHLIGHT_TERMS)
        spans, terms = highlight_spans(p.text, tokens, phrases=phrases)
        return Hit(
            passage_id=p.passage_id, doc_id=p.doc_id, title=doc.display_title, source=doc.name,
            heading_path=p.heading_path, text=p.text, score=round(float(score), 6), matched_terms=terms,
            highlights=spans, kind=p.kind, issuing_body=doc.issuing_body, region=doc.region, year=doc.year,
            doc_type=doc.doc_type, script=doc.script, published=doc.published,
            explain={"bm25_rank": bm25_rank, "dense_rank": dense_rank, "fused_score": round(float(score), 6),
                     **(fusion or {}), "match_p": round(level[1], 4) if level else None} if explain else None,
            match=level[0] if level else None,
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
            "status": "ok" if self.ready else "starting", "ready": self.ready, "version": m.version, "documents": m.documents, "passages": m.passages,
            "model": {"name": m.model.name, "dim": m.model.dim, "fingerprint": m.model.fingerprint},
        }


def both_ranked(state: IndexReader, tokens: list[str], vector: np.ndarray, filters: Filters,
                exclude_doc: str | None) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
    """BM25's and the dense retriever's CANDIDATES best, the dense search on a pool thread meanwhile."""
    pending = _RETRIEVAL_POOL.submit(state.dense_ranked, vector, CANDIDATES, filters, exclude_doc)
    try:
        scored = state.lexical_ranked(tokens, CANDIDATES, filters, exclude_doc)
    except BaseException:
        pending.cancel()
        raise
    return scored, pending.result()


def distinctive(reader: IndexReader, tokens: set[str], n: int, max_share: float = DISTINCTIVE_MAX_SHARE) -> list[str]:
    """Up to n of `tokens`, rarest in the index first: multi-character words in at most max_share of passages."""
    limit = max(1, int(len(reader.doc_of_pos) * max_share))
    freq = {t: reader.doc_freq(t) for t in tokens if len(t) >= 2}
    known = [t for t, f in freq.items() if 0 < f <= limit]
    return sorted(known, key=lambda t: (freq[t], t))[:n]


def sorted_by(state: IndexReader, ranked: list[tuple[int, float]], sort: str) -> list[tuple[int, float]]:
    """The ranked list ordered by a document field (empty values last), each document's passages together, by rank."""
    first: dict[str, int] = {}
    for rank, (pos, _) in enumerate(ranked):
        first.setdefault(state.doc_of_pos[pos], rank)

    def key(item: tuple[int, tuple[int, float]]):
        rank, (pos, _) = item
        doc = state.documents[state.doc_of_pos[pos]]
        return (*sort_value(sort, doc.published, doc.year, doc.region, doc.issuing_body), first[doc.doc_id], rank)

    return [item for _, item in sorted(enumerate(ranked), key=key)]


def sort_value(sort: str, published: str, year: str, region: str, issuing_body: str) -> tuple:
    """A document's place in a `sort` order: by date newest first (publishing date, else the year covered),
    by region or by issuing body; documents without the value go last."""
    if sort == "date":
        value: tuple | str = tuple(-int(p) for p in (published or year).replace("/", "-").split("-") if p.isdigit())
    else:
        value = to_simplified(region if sort == "region" else issuing_body)
    return (not value, value)
