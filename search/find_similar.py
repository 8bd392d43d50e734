"""find-similar from a passage id or from selected text: one path, two stages.

1. The source. A passage id and the text of that passage are the same source: both resolve to the stored
   passage (its vector and its tokens, heading/title context included), so they give the same answer. Text
   that is only part of a passage, or of no passage, is embedded and tokenized on its own. Either way the
   passage the source comes from ("origin") is never returned, nor its document unless asked.
2. First stage: BM25 over the source's selected terms (source_terms) and dense search, fused by RRF.
3. Second stage (rerank): inside each of the best documents, the passage on the same matter.

`similar_ranked` returns positions with scores, highlight terms and explain data; the engine turns them
into hits.
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from core.boilerplate import strip_boilerplate
from core.textform import matching_form, tokenize

from .filters import Filters
from .fusion import BM25_WEIGHT, DENSE_WEIGHT, RRF_K, limit_per_group, reciprocal_rank_fusion
from .rerank import (
    Candidate, SimilarConfig, IdfTable, cosines, deciding, ranked_within_documents, score_candidates,
)
from .source_terms import folded_forms, is_filler, is_function_word, select_terms, weighted_query

LOCATE_TERMS = 8  # terms of a selected text used to find the passage it was selected from
LOCATE_CANDIDATES = 20
MIN_COVERED = 12  # characters: a passage this long found inside a selection is part of it
HIGHLIGHT_TERMS = 3  # as before: the few words that carry the match
DOC_FREQ_MEMO_MAX = 500_000  # words remembered per reader (~60 MB at most); cleared when full
_TERM_STATS: "weakref.WeakKeyDictionary[object, TermStats]" = weakref.WeakKeyDictionary()


@dataclass
class Source:
    """What find-similar starts from."""

    label: str  # as given (shown as the answer's query)
    body: str  # the source text in its original script
    tokens: list[str]
    vector: np.ndarray | None
    origin_pos: int | None = None  # the passage the source is (or was selected from)
    origin_doc: str | None = None
    excluded: set[int] = field(default_factory=set)  # passages never returned: the origin, or those it covers


@dataclass
class Ranked:
    """One answer row before it becomes a hit."""

    pos: int
    score: float
    marks: list[str]
    explain: dict = field(default_factory=dict)


def compact(text: str) -> str:
    """Matching form with only letters, digits and CJK: what "the same text" compares."""
    return "".join(re.findall(r"\w", matching_form(text or "")))


class TermStats:
    """A reader's document frequencies and idf, memoised for as long as the reader lives (a reader is one
    published version, so they never change).

    A request asks for the idf of every distinct word of its ~100–800 candidates (about 1,700 on the seeds);
    most recur from request to request, and the lookups were a fifth of find-similar's time.
    """

    def __init__(self, state) -> None:
        lookup = state.doc_freq if hasattr(state, "doc_freq") else state.lexical.doc_freq
        self.df = _Memo(lookup)
        self.idf = IdfTable(self.df.__getitem__, max(len(state.doc_of_pos), 1))

    def trim(self) -> None:
        """Forget everything once the tables hold DOC_FREQ_MEMO_MAX words (a bound on memory)."""
        if len(self.df) + len(self.idf) > DOC_FREQ_MEMO_MAX:
            self.df.clear()
            self.idf.clear()


class _Memo(dict):
    """A function's answers, kept."""

    def __init__(self, function: Callable[[str], int]) -> None:
        super().__init__()
        self.function = function

    def __missing__(self, key: str) -> int:
        value = self[key] = self.function(key)
        return value


def term_stats(state) -> TermStats:
    """The reader's TermStats (made on first use; a reader that cannot be weakly referenced gets fresh ones)."""
    try:
        stats = _TERM_STATS[state]
    except KeyError:
        stats = _TERM_STATS[state] = TermStats(state)
    except TypeError:
        return TermStats(state)
    stats.trim()
    return stats


def doc_freq_of(state) -> Callable[[str], int]:
    """The reader's document frequency (the protocol's doc_freq, or the embedded reader's lexical index), memoised."""
    return term_stats(state).df.__getitem__


def resolve_source(
    state, encode: Callable[[str], np.ndarray], passage_id: str | None = None, text: str | None = None,
    doc_id: str | None = None,
) -> Source:
    """The source of a request; a text equal to a stored passage's text resolves to that passage."""
    if passage_id:
        pos = state.passage_pos.get(passage_id)
        if pos is None:
            raise LookupError(passage_id)
        record = state.passage_at(pos)
        return Source(record.text, record.text, record.tokens, state.vector_at(pos), pos, record.doc_id, {pos})
    label = (text or "").strip()
    core = strip_boilerplate(matching_form(label))
    origin, covered = locate(state, label, doc_id)
    if origin is not None and is_whole(origin, label):
        pos = state.passage_pos[origin.passage_id]
        return Source(label, origin.text, origin.tokens, state.vector_at(pos), pos, origin.doc_id, {pos})
    source = Source(label, label, tokenize(core), None)
    source.vector = encode(core)
    if origin is not None:
        source.origin_pos, source.origin_doc = state.passage_pos[origin.passage_id], origin.doc_id
        source.excluded = {source.origin_pos}
    elif covered:  # a selection over several passages (an article split into its items)
        docs = [r.doc_id for r in covered]
        source.origin_doc = max(set(docs), key=docs.count)
        source.excluded = {state.passage_pos[r.passage_id] for r in covered}
    if doc_id:
        source.origin_doc = doc_id
    return source


def unlabelled(record) -> str:
    """A passage's compact text without its own label (第 7 條 …) in front."""
    body = compact(record.text)
    label = compact(record.heading_path[-1]) if record.heading_path else ""
    return body[len(label):] if label and body.startswith(label) else body


def is_whole(record, text: str) -> bool:
    """Whether `text` is the whole passage: its text, or its text after the passage's own label."""
    wanted = compact(text)
    return compact(record.text) == wanted or unlabelled(record) == wanted


def locate(state, text: str, doc_id: str | None = None):
    """(the stored passage that contains `text`, or None; the passages `text` contains whole).

    The first is the passage a text was selected from; the second, the passages a selection over several
    of them covers. With `doc_id`, that document's passages are searched; otherwise the best BM25 matches of
    the text's rarest terms (a passage containing the text, or contained in it, holds some of them).
    """
    wanted = compact(text)
    if len(wanted) < 4:
        return None, []
    if doc_id:
        if doc_id not in state.documents:
            return None, []
        records = state.document_passages(doc_id)
    else:
        terms = select_terms(tokenize(text), doc_freq_of(state), max(len(state.doc_of_pos), 1), LOCATE_TERMS,
                             max_share=1.0)
        if not terms:
            return None, []
        positions = state.lexical_top([t for t, _ in terms], LOCATE_CANDIDATES, Filters(), None)
        records = state.passages_at(positions)
    forms = [(r, compact(r.text), unlabelled(r)) for r in records]
    containing = [r for r, form, _ in forms if wanted in form]
    covered = [r for r, _, body in forms if len(body) >= MIN_COVERED and body in wanted]
    if not containing:
        return None, covered
    return min(containing, key=lambda r: (len(r.text), r.passage_id)), covered  # the tightest passage holding it


@dataclass
class FirstStage:
    """The first stage's rankings for one source (positions, best first)."""

    terms: list[tuple[str, float]]
    tokens: list[str]  # all the source's tokens (folded vocabulary included)
    lexical: list[int]
    dense: list[int]
    fused: list[tuple[int, float]]
    unfiltered: list[tuple[int, float]]

    @property
    def term_weights(self) -> dict[str, float]:
        return dict(self.terms)


def first_stage(
    state, source: Source, filters: Filters, config: SimilarConfig, include_same_doc: bool = False,
) -> FirstStage:
    """BM25 (selected or all source terms) and dense rankings of admitted passages, fused by RRF."""
    doc_freq = doc_freq_of(state)
    n = max(len(state.doc_of_pos), 1)
    tokens = list(source.tokens)
    if config.fold_vocabulary:
        seen = set(tokens)
        for form in folded_forms(source.body):
            extra = [t for t in tokenize(form) if t not in seen]
            tokens += extra
            seen.update(extra)
    terms = select_terms(tokens, doc_freq, n)
    query_tokens = weighted_query(terms) if config.source_terms else tokens
    excluded_doc = None if include_same_doc else source.origin_doc

    def admitted(pos: int) -> bool:
        return pos not in source.excluded and state.doc_of_pos[pos] != excluded_doc

    def retrieve(active: Filters):
        lexical = [p for p in state.lexical_top(query_tokens, config.candidates, active, None) if admitted(p)]
        dense = [p for p in state.dense_top(source.vector, config.candidates, active, None) if admitted(p)]
        weighted = [(r, w) for r, w in ((lexical, BM25_WEIGHT), (dense, DENSE_WEIGHT)) if r]
        fused = reciprocal_rank_fusion([r for r, _ in weighted], weights=[w for _, w in weighted])
        return lexical, dense, fused

    lexical, dense, fused = retrieve(Filters())
    unfiltered = fused
    if filters.active:
        lexical, dense, fused = retrieve(filters)
    return FirstStage(terms, tokens, lexical, dense, fused, unfiltered)


def second_stage_candidates(state, source: Source, stage: FirstStage, config: SimilarConfig,
                            min_docs: int = 0) -> list[Candidate]:
    """The first stage's passages of its best `rerank_docs` documents, with features and scores."""
    docs: list[str] = []
    for pos, _ in stage.fused:
        doc = state.doc_of_pos[pos]
        if doc not in docs:
            docs.append(doc)
            if len(docs) >= max(config.rerank_docs, min_docs):
                break
    keep = set(docs)
    fused_score = dict(stage.fused)
    lex_rank = {p: r for r, p in enumerate(stage.lexical, 1)}
    dense_rank = {p: r for r, p in enumerate(stage.dense, 1)}
    positions = [p for p in dict.fromkeys(stage.lexical + stage.dense) if state.doc_of_pos[p] in keep]
    # only what the features need: a candidate's tokens and its place in its document, not whole records
    rows = [(ordinal, tokens.split(" ") if tokens else []) for ordinal, tokens in
            state.passage_columns(positions, ("ordinal", "tokens"))]
    if config.whole_docs:  # the passage on the matter may be one neither retriever ranked high
        have = set(positions)
        for doc in docs[: config.whole_docs]:
            for record in state.document_passages(doc):
                pos = state.passage_pos[record.passage_id]
                if pos not in have and pos not in source.excluded:
                    positions.append(pos)
                    rows.append((record.ordinal, record.tokens))
    sims = cosines(state.vectors_at(positions), source.vector) if positions else np.zeros(0, np.float32)
    doc_ids = [state.doc_of_pos[p] for p in positions]
    candidates = [
        Candidate(pos=p, doc_id=d, tokens=tokens, cosine=float(s), bm25_rank=lex_rank.get(p),
                  dense_rank=dense_rank.get(p), fused=fused_score.get(p, 0.0), place=place_of(state, d, int(ordinal)))
        for p, d, (ordinal, tokens), s in zip(positions, doc_ids, rows, sims.tolist())
    ]
    return score_candidates(candidates, stage.term_weights, term_stats(state).idf.__getitem__, config.weights, is_filler,
                            stage.tokens, source_place(state, source))


def place_of(state, doc_id: str, ordinal: int) -> float:
    """The relative place of a document's passage number `ordinal`: 0 for the first, 1 for the last."""
    doc = state.documents.get(doc_id)
    return ordinal / max(doc.n_passages - 1, 1) if doc is not None else 0.0


def source_place(state, source: Source) -> float | None:
    """The source's relative place in its document (its first passage), None for free text."""
    if not source.excluded or source.origin_doc is None:
        return None
    first = min(source.excluded)
    record = state.passage_at(first)
    return place_of(state, record.doc_id, record.ordinal)


def similar_ranked(
    state, source: Source, k: int, per_doc: int | None, filters: Filters, config: SimilarConfig,
    include_same_doc: bool = False, explain: bool = False,
) -> tuple[list[Ranked], list[tuple[int, float]]]:
    """Answer rows and the unfiltered fused list (for facets)."""
    stage = first_stage(state, source, filters, config, include_same_doc)
    marks_of = _marks(stage.term_weights)
    lex_rank = {p: r for r, p in enumerate(stage.lexical, 1)}
    dense_rank = {p: r for r, p in enumerate(stage.dense, 1)}
    if not config.rerank:
        chosen = limit_per_group(stage.fused, lambda pos: state.doc_of_pos[pos], per_doc, k)
        records = state.passages_at([p for p, _ in chosen])
        rows = []
        for (pos, score), record in zip(chosen, records):
            info = _first_stage(lex_rank.get(pos), dense_rank.get(pos), score) if explain else {}
            rows.append(Ranked(pos, score, marks_of(record.tokens), info))
        return rows, stage.unfiltered

    candidates = second_stage_candidates(state, source, stage, config, k if per_doc == 1 else 0)
    ordered = ranked_within_documents(candidates, per_doc, config.doc_order)[:k]
    fused_rank = {p: r for r, (p, _) in enumerate(stage.fused, 1)}
    rows = []
    for c in ordered:
        info = {}
        if explain:
            info = _first_stage(c.bm25_rank, c.dense_rank, c.fused)
            info.update(
                first_stage_rank=fused_rank.get(c.pos), rerank_score=round(c.score, 6),
                features={f: round(v, 4) for f, v in c.features.items()},
                deciding=deciding(c, config.weights), rerank_weights=config.weights.as_dict(),
                source_terms=[t for t, _ in stage.terms[:12]],
            )
        rows.append(Ranked(c.pos, c.score, marks_of(c.tokens), info))
    return rows, stage.unfiltered


def _first_stage(bm25_rank, dense_rank, fused_score) -> dict:
    return {"bm25_rank": bm25_rank, "dense_rank": dense_rank, "fused_score": round(float(fused_score), 6),
            "rrf_k": RRF_K, "bm25_weight": BM25_WEIGHT, "dense_weight": DENSE_WEIGHT}


def _marks(term_weights: dict[str, float]) -> Callable[[list[str]], list[str]]:
    """Highlight terms of a hit: the selected source terms it shares, heaviest first, never filler or a
    function word (关于: on a small index its document frequency cannot tell it is one)."""

    def marks(tokens: list[str]) -> list[str]:
        shared = [t for t in set(tokens) if t in term_weights and not is_filler(t) and not is_function_word(t)]
        shared.sort(key=lambda t: (-term_weights[t], t))
        out: list[str] = []
        for term in shared:  # 法律顾问 already marks 法律 and 顾问
            if not any(term in kept for kept in out):
                out.append(term)
            if len(out) >= HIGHLIGHT_TERMS:
                break
        return out

    return marks
