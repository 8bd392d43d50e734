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


class IdfTable(dict):
    """idf = ln(1 + N / df) of each word (0 for unknown ones), computed on first use and kept.

    A dict, so that lookups of known words cost no Python call: one request of find-similar looks up the idf
    of ~1,700 distinct words.
    """

    def __init__(self, doc_freq: Callable[[str], int], n_passages: int) -> None:
        super().__init__()
        self.doc_freq, self.n_passages = doc_freq, n_passages

    def __missing__(self, term: str) -> float:
        df = self.doc_freq(term)
        value = self[term] = math.log(1 + self.n_passages / df) if df > 0 else 0.0
        return value


def bm25_scores(query: list[str], docs: list[list[str]], idf: Callable[[str], float],
                k1: float = BM25_K1, b: float = BM25_B) -> list[float]:
    """Okapi BM25 of each token list for the query (repeated query tokens count again), avgdl over `docs`.

    The reference loop: score_candidates uses bm25_matrix, which a test holds equal to this.
    """
    if not docs:
        return []
    avgdl = sum(len(d) for d in docs) / len(docs) or 1.0
    qtf = Counter(query)
    weight = {t: q * idf(t) * (k1 + 1) for t, q in qtf.items()}
    out = []
    for doc in docs:
        tf = Counter(t for t in doc if t in weight)  # only the query's terms count; the rest is never read
        norm = k1 * (1 - b + b * len(doc) / avgdl)
        out.append(sum(weight[t] * n / (n + norm) for t, n in tf.items()))
    return out


@dataclass
class TermMatrix:
    """The candidates' words as one sparse table: each (candidate, distinct word) pair with its count.

    Built once a request, so BM25, coverage and focus are array sums rather than Python loops over every
    word of every candidate (find-similar scores ~150–800 candidates of ~100 words each).
    """

    words: list[str]  # distinct words of the candidates, by id
    ids: dict[str, int]
    row: np.ndarray  # candidate of each pair
    word: np.ndarray  # word id of each pair
    tf: np.ndarray  # count of the word in the candidate
    lengths: np.ndarray  # tokens of each candidate

    @classmethod
    def of(cls, token_lists: list[list[str]]) -> "TermMatrix":
        ids: dict[str, int] = {}
        flat = np.fromiter((ids.setdefault(t, len(ids)) for tokens in token_lists for t in tokens), np.int64)
        lengths = np.fromiter((len(tokens) for tokens in token_lists), np.int64, len(token_lists))
        width = max(len(ids), 1)
        pairs, tf = np.unique(np.repeat(np.arange(len(token_lists)), lengths) * width + flat, return_counts=True)
        return cls(list(ids), ids, pairs // width, pairs % width, tf.astype(np.float64), lengths)

    def per_word(self, values: dict[str, float]) -> np.ndarray:
        """A value for each word id (0 for words not in `values`)."""
        out = np.zeros(len(self.words))
        for t, v in values.items():
            i = self.ids.get(t)
            if i is not None:
                out[i] = v
        return out

    def row_sums(self, weights: np.ndarray) -> np.ndarray:
        """Each candidate's sum of `weights` over its pairs."""
        return np.bincount(self.row, weights=weights, minlength=len(self.lengths))


def bm25_matrix(query: list[str], matrix: TermMatrix, idf: Callable[[str], float],
                k1: float = BM25_K1, b: float = BM25_B) -> np.ndarray:
    """bm25_scores over a TermMatrix (the same values, as arrays)."""
    if not len(matrix.lengths):
        return np.zeros(0)
    avgdl = float(matrix.lengths.mean()) or 1.0
    weight = matrix.per_word({t: q * idf(t) * (k1 + 1) for t, q in Counter(query).items()})
    norm = k1 * (1 - b + b * matrix.lengths / avgdl)
    return matrix.row_sums(weight[matrix.word] * matrix.tf / (matrix.tf + norm[matrix.row]))


def score_candidates(
    candidates: list[Candidate], source_terms: dict[str, float], idf: Callable[[str], float],
    weights: RerankWeights, is_filler: Callable[[str], bool] = lambda t: False,
    source_tokens: list[str] | None = None, source_place: float | None = None,
) -> list[Candidate]:
    """Fill each candidate's features and score (in place); returns the list."""
    if not candidates:
        return candidates
    source_mass = sum(source_terms.values()) or 1.0
    _, group = np.unique(np.array([c.doc_id for c in candidates], dtype=object), return_inverse=True)
    n_groups = int(group.max()) + 1
    cosine = np.array([c.cosine for c in candidates], np.float64)
    query = [t for t in (source_tokens or list(source_terms)) if not is_filler(t)]
    matrix = TermMatrix.of([c.tokens for c in candidates])
    lexical = bm25_matrix(query, matrix, idf)
    # idf and filler once per distinct word of the request; filler words are no one's own (focus) words
    idf_of_word = np.array([0.0 if is_filler(t) else idf(t) for t in matrix.words])
    own = np.array([not is_filler(t) for t in matrix.words], bool)[matrix.word] if matrix.words else np.zeros(0, bool)
    shared = own & (matrix.per_word({t: 1.0 for t in source_terms}) > 0)[matrix.word]
    covered = matrix.row_sums(np.where(shared, matrix.per_word(source_terms)[matrix.word], 0.0))
    own_mass = matrix.row_sums(np.where(own, idf_of_word[matrix.word], 0.0))
    shared_mass = matrix.row_sums(np.where(shared, idf_of_word[matrix.word], 0.0))
    best_cos, best_lexical = np.full(n_groups, -np.inf), np.zeros(n_groups)
    np.maximum.at(best_cos, group, cosine)
    np.maximum.at(best_lexical, group, lexical)
    top_lexical = float(lexical.max()) or 1.0
    columns = {
        "cosine": cosine,
        "cosine_gap": cosine - best_cos[group],
        "bm25": np.array([reciprocal(c.bm25_rank) for c in candidates]),
        "dense": np.array([reciprocal(c.dense_rank) for c in candidates]),
        "coverage": covered / source_mass,
        "focus": shared_mass / np.where(own_mass == 0, 1.0, own_mass),
        "lexical": lexical / top_lexical,
        "lexical_gap": lexical / np.where(best_lexical == 0, 1.0, best_lexical)[group] - 1.0,
        "position": np.array([-abs(c.place - source_place) if c.place is not None and source_place is not None
                              else 0.0 for c in candidates]),
    }
    columns["cosine_z"] = group_z(columns["cosine"], group, n_groups)
    columns["lexical_z"] = group_z(columns["lexical"], group, n_groups)
    table = np.column_stack([columns[f] for f in FEATURES])
    w = weights.as_dict()
    scores = table @ np.array([w[f] for f in FEATURES])
    for c, row, score in zip(candidates, table.tolist(), scores.tolist()):
        c.features, c.score = dict(zip(FEATURES, row)), score
    return candidates


def group_z(values: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Each value's z-score among the values of its group (0 where a group's spread is nil)."""
    counts = np.bincount(group, minlength=n_groups)
    mean = np.bincount(group, weights=values, minlength=n_groups) / counts
    spread = np.sqrt(np.bincount(group, weights=(values - mean[group]) ** 2, minlength=n_groups) / counts)
    sd = spread[group]
    return np.where(sd > 1e-9, (values - mean[group]) / np.where(sd > 1e-9, sd, 1.0), 0.0)


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
