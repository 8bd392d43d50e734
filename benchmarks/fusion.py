"""Search fusion side by side: reciprocal rank fusion against score fusion (z-scores, convex weights), on STARD.

Every variant runs through the product's own `SearchEngine.search` (per_doc 1, the default match cut), with
only the fusion swapped, over the same index and the same cached query vectors:
- `rrf`: reciprocal rank fusion, k=20, BM25 weight 0.5 against dense 1.0 (search before this change);
- `convex-z w`: w × dense z-score + (1 − w) × BM25 z-score over each retriever's 200 candidates (shipped, w=0.7);
- `convex-minmax w`: the same with min-max scaling;
- `dense`, `bm25`: one retriever alone.

For each: nDCG@10 over the train questions, and its paired difference from `rrf` with a bootstrap 95%
interval. Then the dense weight is chosen by 5-fold cross-validation over the questions (chosen on four
folds, scored on the fifth). Never asserts. The index is built when not given (as quality.py builds it).

    python benchmarks/fusion.py [--index STARD_INDEX] [--traditional] [--queries N] [--shared ../shared]

Last line: `fusion stard_rrf=… stard_shipped=… stard_dense=… cv_weights=… cv_heldout=… cv_rrf=…`
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import search.engine as engine_module  # noqa: E402
from quality import CachingEncoder, build, distractor_articles, load_jsonl, metrics  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.fusion import BM25_WEIGHT, DENSE_WEIGHT, SEARCH_DENSE_WEIGHT, reciprocal_rank_fusion, weighted_sum  # noqa: E402

WEIGHTS = (0.5, 0.6, 0.7, 0.8, 0.9)
FOLDS = 5
SEED = 7


def rrf_of_scored(normalized, weights):
    """The fusion search used before: ranks only (each dict keeps its retriever's order)."""
    return reciprocal_rank_fusion([list(z) for z in normalized], weights=[BM25_WEIGHT, DENSE_WEIGHT])


def minmax(normalized, weights):
    """weighted_sum over each list scaled to 0–1 instead of z-scores (min-max is z's affine image per list)."""
    scaled = []
    for z in normalized:
        lo, hi = min(z.values(), default=0.0), max(z.values(), default=0.0)
        scaled.append({p: (v - lo) / (hi - lo) if hi > lo else 0.0 for p, v in z.items()})
    return weighted_sum(scaled, weights)


@contextmanager
def fusion(function, weight: float):
    """The engine's search with another fusion function and dense weight."""
    saved = engine_module.weighted_sum, engine_module.SEARCH_DENSE_WEIGHT
    engine_module.weighted_sum, engine_module.SEARCH_DENSE_WEIGHT = function, weight
    try:
        yield
    finally:
        engine_module.weighted_sum, engine_module.SEARCH_DENSE_WEIGHT = saved


def ndcg_per_query(engine: SearchEngine, queries: list[dict], id_of: dict[str, str], mode: str = "hybrid") -> np.ndarray:
    out = []
    for q in queries:
        hits = engine.search(q["query"], k=10, per_doc=1, mode=mode).hits
        out.append(metrics([id_of[h.doc_id] for h in hits], {str(r) for r in q["relevant"]})[2])
    return np.array(out)


def bootstrap(diff: np.ndarray, rng: np.random.Generator, rounds: int = 2000) -> tuple[float, float]:
    means = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(rounds)]
    return float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def stard_index(args, folder: Path) -> tuple[SearchEngine, dict[str, str]]:
    """The STARD index (judged articles + cn-laws distractors, as quality.py builds it), or the one given."""
    if args.index:
        engine = SearchEngine(args.index)
        return engine, {d["doc_id"]: d["source"].rsplit("#", 1)[1] for d in engine.documents()}
    import opencc

    from core.model import Encoder

    articles = load_jsonl(args.shared / "eval" / "stard-articles.jsonl")
    distractors = distractor_articles(args.shared, 4000, {a["text"].strip() for a in articles},
                                      {a["title"] for a in articles})
    corpus = [{"id": str(a["id"]), "title": a["title"], "text": a["text"]} for a in articles]
    corpus += [{"id": f"d{i}", **d} for i, d in enumerate(distractors)]
    if args.traditional:
        s2t = opencc.OpenCC("s2t")
        corpus = [{**d, "title": s2t.convert(d["title"]), "text": s2t.convert(d["text"])} for d in corpus]
    engine, id_of, _, _ = build(corpus, folder, CachingEncoder(Encoder()))
    return engine, id_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--index", type=Path, default=None, help="a STARD index built before (default: build one)")
    parser.add_argument("--traditional", action="store_true", help="build the corpus in Traditional script")
    parser.add_argument("--queries", type=int, default=0, help="only the first N train questions (0: all)")
    args = parser.parse_args()

    queries = load_jsonl(args.shared / "eval" / "stard-train.jsonl")
    queries = queries[: args.queries] if args.queries else queries
    with tempfile.TemporaryDirectory() as tmp:
        engine, id_of = stard_index(args, Path(tmp))
        variants: dict[str, np.ndarray] = {}
        with fusion(rrf_of_scored, SEARCH_DENSE_WEIGHT):
            variants["rrf"] = ndcg_per_query(engine, queries, id_of)
        for w in WEIGHTS:
            with fusion(weighted_sum, w):
                variants[f"convex-z {w}"] = ndcg_per_query(engine, queries, id_of)
        for w in (0.6, 0.7, 0.8):
            with fusion(minmax, w):
                variants[f"convex-minmax {w}"] = ndcg_per_query(engine, queries, id_of)
        variants["dense"] = ndcg_per_query(engine, queries, id_of, "dense")
        variants["bm25"] = ndcg_per_query(engine, queries, id_of, "bm25")

    rng = np.random.default_rng(SEED)
    base = variants["rrf"]
    shipped = f"convex-z {SEARCH_DENSE_WEIGHT}"
    print(f"STARD-train, {len(queries)} questions, {'Traditional' if args.traditional else 'Simplified'} corpus; "
          f"search per_doc 1, default match cut; shipped: {shipped}\n")
    print("| fusion | nDCG@10 | − rrf | 95% interval | questions better / worse |")
    print("|---|---|---|---|---|")
    for name, values in variants.items():
        diff = values - base
        lo, hi = bootstrap(diff, rng) if name != "rrf" else (0.0, 0.0)
        print(f"| {name}{' (shipped)' if name == shipped else ''} | {values.mean():.4f} | {diff.mean():+.4f} | "
              f"[{lo:+.4f}, {hi:+.4f}] | {int((diff > 0).sum())} / {int((diff < 0).sum())} |")

    order = rng.permutation(len(base))
    folds = np.array_split(order, FOLDS)
    convex = [f"convex-z {w}" for w in WEIGHTS]
    chosen, held, held_rrf = [], [], []
    for fold in folds:
        train = np.setdiff1d(order, fold)
        best = max(convex, key=lambda n: variants[n][train].mean())
        chosen.append(best.split()[-1])
        held.append(variants[best][fold].mean())
        held_rrf.append(base[fold].mean())
    print(f"\n{FOLDS}-fold cross-validation of the dense weight: chosen {', '.join(chosen)}; held-out nDCG@10 "
          f"{np.mean(held):.4f} against rrf {np.mean(held_rrf):.4f} on the same folds")
    print(f"fusion stard_rrf={base.mean():.4f} stard_shipped={variants[shipped].mean():.4f} "
          f"stard_dense={variants['dense'].mean():.4f} cv_weights={json.dumps(chosen).replace(' ', '')} "
          f"cv_heldout={np.mean(held):.4f} cv_rrf={np.mean(held_rrf):.4f}")


if __name__ == "__main__":
    main()
