"""Second stage of find-similar: inside each document, which passage is the one on the same matter.

The first stage (BM25 and dense, fused) finds the right documents (the partner law is among the ten for
97.5% of the dev pairs) but often shows the wrong passage of them. The second stage scores every candidate
passage of the best documents on a few features and keeps each document's best:

- `cosine`: the dense similarity of source and passage (the stored vectors, heading/title context included);
- `cosine_gap`: how far the passage's cosine is below the best one in its own document (0 for the best);
- `bm25`: the passage's reciprocal BM25 rank (selected source terms), 0 when BM25 did not return it;
- `dense`: its reciprocal dense rank;
- `coverage`: the idf mass of the source's selected terms that the passage contains (0–1);
- `focus`: the idf mass of the passage's own distinctive terms that the source shares (0–1): high when the
  passage is about what the source is about, low for a long passage that merely mentions it;
- `lexical`: BM25 of the passage for all the source's tokens (filler excluded), over the candidates, as a
  share of the best candidate's; `lexical_gap`: its share of the best in its own document minus 1 (0 for
  the best);
- `cosine_z`, `lexical_z`: cosine and lexical as z-scores among the candidates of the same document: only
  the choice inside a document depends on them, and on a common scale they can be added;
- `position`: minus the distance between the passage's relative place in its document (0 at the start, 1 at
  the end) and the source's in its own: laws (and reports) on the same matter are laid out in a similar
  order. 0 when the source is free text.

The score is a weighted sum (weights chosen by cross-validation on the dev pairs, docs/similar.md). Pure
functions only; the engine supplies the candidates.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

FEATURES = ("cosine", "cosine_gap", "bm25", "dense", "coverage", "focus", "lexical", "lexical_gap",
            "cosine_z", "lexical_z", "position")
BM25_K1, BM25_B = 1.5, 0.75
RANK_K = 20  # reciprocal rank features: 1 / (RANK_K + rank), scaled so rank 1 gives 1.0


@dataclass(frozen=True)
class RerankWeights:
    """Weights of the second stage's features.

    Chosen on the 40 dev pairs by grid search (benchmarks/similar.py --tune; 5-fold cross-validation of the
    same search on held-out folds: hit@10 0.59 ± 0.20, MRR 0.45 ± 0.13, against 0.48 / 0.40 for the first
    stage alone; docs/similar.md). The fold-wise choices agree on cosine_z = lexical_z = 1, dense 0.5 and a
    position weight of 2–8, mostly coverage 1; the other features stay at 0.
    """

    cosine: float = 0.0
    cosine_gap: float = 0.0
    bm25: float = 0.0
    dense: float = 0.5
    coverage: float = 1.0
    focus: float = 1.0
    lexical: float = 0.0
    lexical_gap: float = 0.0
    cosine_z: float = 1.0
    lexical_z: float = 1.0
    position: float = 4.0

    def as_dict(self) -> dict[str, float]:
        return {f: getattr(self, f) for f in FEATURES}


@dataclass(frozen=True)
class SimilarConfig:
    """Which levers find-similar uses; the benchmark switches them one by one.

    `legacy` is the product before issue 12 (all source tokens to BM25, the passage's own vector, the
    fused passage order): the baseline.
    """

    legacy: bool = False
    source_terms: bool = False  # more_like_this selection of the source's terms for BM25 (measured: no gain)
    fold_vocabulary: bool = True  # add the source's words in the other script's vocabulary (OpenCC phrases)
    rerank: bool = True  # second stage inside each document
    rerank_docs: int = 40  # documents whose candidates the second stage scores (first-stage order)
    candidates: int = 400  # per retriever
    whole_docs: int = 0  # the best this many documents offer all their passages, not only those retrieved
    # "fused": documents in first-stage order (the z-scored features compare passages of one document only);
    # "rerank": by their best second-stage score. Equal on the dev pairs (hit@10 0.600 / 0.613, MRR 0.491 / 0.488).
    doc_order: str = "fused"
    weights: RerankWeights = field(default_factory=RerankWeights)

    def but(self, **changes) -> "SimilarConfig":
        """A copy with some fields changed."""
        return replace(self, **changes)


LEGACY = SimilarConfig(legacy=True, source_terms=False, fold_vocabulary=False, rerank=False)


@dataclass
class Candidate:
    """One passage the first stage returned, with what the second stage needs."""

    pos: int
    doc_id: str
    tokens: list[str]
    cosine: float
    bm25_rank: int | None = None
    dense_rank: int | None = None
    fused: float = 0.0
    place: float | None = None  # relative place in its document, 0–1
    features: dict[str, float] = field(default_factory=dict)
    score: float = 0.0


def reciprocal(rank: int | None) -> float:
    """1.0 for rank 1, falling as 1/(k + rank); 0 when absent."""
    return 0.0 if rank is None else (RANK_K + 1) / (RANK_K + rank)


def idf_of(doc_freq: Callable[[str], int], n_passages: int) -> Callable[[str], float]:
    """idf = ln(1 + N / df), 0 for unknown terms; memoised for one request."""
    cache: dict[str, float] = {}

    def idf(term: str) -> float:
        value = cache.get(term)
        if value is None:
            df = doc_freq(term)
            value = math.log(1 + n_passages / df) if df > 0 else 0.0
            cache[term] = value
        return value

    return idf


def bm25_scores(query: list[str], docs: list[list[str]], idf: Callable[[str], float],
                k1: float = BM25_K1, b: float = BM25_B) -> list[float]:
    """Okapi BM25 of each token list for the query (repeated query tokens count again), avgdl over `docs`."""
    if not docs:
        return []
    avgdl = sum(len(d) for d in docs) / len(docs) or 1.0
    qtf = Counter(query)
    out = []
    for doc in docs:
        tf = Counter(doc)
        norm = k1 * (1 - b + b * len(doc) / avgdl)
        out.append(sum(q * idf(t) * tf[t] * (k1 + 1) / (tf[t] + norm) for t, q in qtf.items() if t in tf))
    return out


def score_candidates(
    candidates: list[Candidate], source_terms: dict[str, float], idf: Callable[[str], float],
    weights: RerankWeights, is_filler: Callable[[str], bool] = lambda t: False,
    source_tokens: list[str] | None = None, source_place: float | None = None,
) -> list[Candidate]:
    """Fill each candidate's features and score (in place); returns the list."""
    source_mass = sum(source_terms.values()) or 1.0
    best_cos: dict[str, float] = {}
    for c in candidates:
        best_cos[c.doc_id] = max(best_cos.get(c.doc_id, -1.0), c.cosine)
    query = [t for t in (source_tokens or list(source_terms)) if not is_filler(t)]
    lexical = bm25_scores(query, [c.tokens for c in candidates], idf)
    top_lexical = max(lexical, default=0.0) or 1.0
    best_lexical: dict[str, float] = {}
    for c, value in zip(candidates, lexical):
        best_lexical[c.doc_id] = max(best_lexical.get(c.doc_id, 0.0), value)
    w = weights.as_dict()
    for c, value in zip(candidates, lexical):
        own = {t for t in set(c.tokens) if not is_filler(t)}
        shared = own & source_terms.keys()
        covered = sum(source_terms[t] for t in shared)
        own_mass = sum(idf(t) for t in own) or 1.0
        shared_mass = sum(idf(t) for t in shared)
        c.features = {
            "cosine": c.cosine,
            "cosine_gap": c.cosine - best_cos[c.doc_id],
            "bm25": reciprocal(c.bm25_rank),
            "dense": reciprocal(c.dense_rank),
            "coverage": covered / source_mass,
            "focus": shared_mass / own_mass,
            "lexical": value / top_lexical,
            "lexical_gap": value / (best_lexical[c.doc_id] or 1.0) - 1.0,
            "position": -abs(c.place - source_place) if c.place is not None and source_place is not None else 0.0,
        }
    within_document_z(candidates, "cosine", "cosine_z")
    within_document_z(candidates, "lexical", "lexical_z")
    for c in candidates:
        c.score = sum(w[f] * c.features[f] for f in FEATURES)
    return candidates


def within_document_z(candidates: list[Candidate], feature: str, into: str) -> None:
    """features[into] = the z-score of features[feature] among the candidates of the same document."""
    values: dict[str, list[float]] = {}
    for c in candidates:
        values.setdefault(c.doc_id, []).append(c.features[feature])
    stats = {d: (float(np.mean(v)), float(np.std(v))) for d, v in values.items()}
    for c in candidates:
        mean, sd = stats[c.doc_id]
        c.features[into] = (c.features[feature] - mean) / sd if sd > 1e-9 else 0.0


def best_per_document(candidates: list[Candidate], doc_order: str = "rerank") -> list[Candidate]:
    """Each document's best candidate by score; documents by that score, or by their best fused score."""
    best: dict[str, Candidate] = {}
    first: dict[str, float] = {}
    for c in candidates:
        if c.doc_id not in best or (c.score, -c.pos) > (best[c.doc_id].score, -best[c.doc_id].pos):
            best[c.doc_id] = c
        first[c.doc_id] = max(first.get(c.doc_id, 0.0), c.fused)
    if doc_order == "fused":
        return sorted(best.values(), key=lambda c: (-first[c.doc_id], c.pos))
    return sorted(best.values(), key=lambda c: (-c.score, c.pos))


def ranked_within_documents(candidates: list[Candidate], per_doc: int | None, doc_order: str = "fused") -> list[Candidate]:
    """Candidates in answer order: every document's best (documents in order), then every document's second…

    At most `per_doc` of a document (None: no limit). The second stage's scores compare passages of one
    document, so a document's second passage never goes ahead of another document's best.
    """
    heads = best_per_document(candidates, doc_order)
    by_doc: dict[str, list[Candidate]] = {}
    for c in sorted(candidates, key=lambda c: (-c.score, c.pos)):
        by_doc.setdefault(c.doc_id, []).append(c)
    if per_doc == 1:
        return heads
    depth = max((len(v) for v in by_doc.values()), default=0) if per_doc is None else per_doc
    out = []
    for tier in range(depth):
        out += [by_doc[h.doc_id][tier] for h in heads if tier < len(by_doc[h.doc_id])]
    return out


def cosines(vectors: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Inner products of normalised vectors with the source vector."""
    if len(vectors) == 0:
        return np.zeros(0, np.float32)
    return np.asarray(vectors, np.float32) @ np.asarray(source, np.float32).reshape(-1)


def deciding(candidate: Candidate, weights: RerankWeights, n: int = 3) -> list[str]:
    """The features that contributed most to a candidate's score, largest first."""
    w = weights.as_dict()
    parts = sorted(((w[f] * candidate.features.get(f, 0.0), f) for f in FEATURES), reverse=True)
    return [f for value, f in parts[:n] if value > 0]
