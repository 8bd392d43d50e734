"""The adapted model in find-similar's second stage only: does a second embedded form pick the counterpart?

    python benchmarks/adapt_rerank.py [--shared ../shared] [--cache /work/cache/xs] [--model /work/cache/adapt/model]

benchmarks/adapt.py fine-tunes e5-small without labels on article pairs mined from title-matched Taiwan/PRC
laws outside the dev corpus. Used for everything (search included) it lost the cross-script questions
(query_MRR 0.743 → 0.571) and found the partner law less often, while inside the partner law it chose the
counterpart far more often (top-1 0.388 → 0.562). So here the base model keeps the first stage (which
documents) and search, and the adapted model only adds a feature to the second stage (which passage of each
document): `adapted_z`, the adapted cosine of source and candidate as a z-score among the candidates of the
same document, like `cosine_z`.

Every passage of the dev index (and a fresh seeds index) is embedded once with the adapted model (fp32,
e5's `passage: ` prefix on the passage's matching text, as the index embeds it) and cached beside the index.
Then the same 5-fold cross-validation by pair as `similar.py --tune` (same shuffle), with `adapted_z` ∈ {0, 1,
2} added to the grid, and `adapted_z` replacing `cosine_z`. Never asserts. Last line:
`adapt_rerank cv_mrr=… cv_hit10=… base_cv_mrr=… base_cv_hit10=… seed=… base_seed=…`
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import similar  # noqa: E402
from similar import GRID, SHIPPED, collect, collect_seeds, cross_validate, engines, seed_figure  # noqa: E402
from core.model import Encoder  # noqa: E402
from core.textform import matching_form  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.rerank import FEATURES, group_z  # noqa: E402

NAMES = FEATURES + ("adapted_z",)


def load(model: Path):
    """The adapted model (fp32, sentence-transformers)."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(model), device="cpu")
    st.max_seq_length = 256
    return st


def adapted_vectors(engine: SearchEngine, model: Path, cache: Path) -> np.ndarray:
    """Every passage's adapted vector, by position (cached in `cache`)."""
    state = engine._state
    n = len(state.doc_of_pos)
    if cache.exists():
        vectors = np.load(cache)
        if len(vectors) == n:
            return vectors
    st = load(model)
    texts = [r.match_text for r in state.passages_at(list(range(n)))]
    print(f"embedding {n} passages with {model} ...", file=sys.stderr)
    vectors = st.encode(["passage: " + t for t in texts], batch_size=32, normalize_embeddings=True,
                        show_progress_bar=False).astype(np.float32)
    np.save(cache, vectors)
    return vectors


def add_feature(rows: list[dict], vectors: np.ndarray, state, encode) -> None:
    """Append `adapted_z` to each row's feature matrix (the source: its passage's vector, or its text encoded)."""
    for row in rows:
        source = row["source"]
        pos = source.origin_pos
        whole = pos is not None and np.allclose(source.vector, state.vector_at(pos))
        query = vectors[pos] if whole else encode(source.body)
        if not len(row["pos"]):
            row["X"] = np.zeros((0, len(NAMES)), np.float32)
            continue
        cos = vectors[row["pos"]] @ query
        codes = row["codes"]
        z = group_z(cos.astype(np.float64), codes, int(codes.max()) + 1)
        row["X"] = np.column_stack([row["X"], z]).astype(np.float32)


def figures(rows: list[dict], w: np.ndarray) -> dict:
    """similar.py's figures with documents in first-stage order (as shipped)."""
    return similar.figures(rows, w, "fused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/xs"))
    parser.add_argument("--model", type=Path, default=Path("/work/cache/adapt/model"))
    args = parser.parse_args()
    encoder = Encoder()
    dev, seeds, seeds_dir = engines(args.shared, args.cache, encoder)
    dev_vectors = adapted_vectors(dev, args.model, args.cache / "adapted-vectors.npy")
    seed_vectors = adapted_vectors(seeds, args.model, Path(seeds_dir.name) / "adapted-vectors.npy")
    rows = collect(dev, args.shared, SHIPPED)
    seed_rows = collect_seeds(seeds, SHIPPED)
    st = load(args.model)
    encode = lambda text: st.encode(["passage: " + matching_form(text)], normalize_embeddings=True)[0]  # noqa: E731
    add_feature(rows, dev_vectors, dev._state, encode)
    add_feature(seed_rows, seed_vectors, seeds._state, encode)
    base_grid = dict(GRID)
    grids = {
        "shipped features": base_grid,
        "+ adapted_z": {**base_grid, "adapted_z": (0.0, 1.0, 2.0)},
        "adapted_z for cosine_z": {**{k: v for k, v in base_grid.items() if k != "cosine_z"},
                                   "adapted_z": (0.0, 1.0, 2.0)},
    }
    shipped_w = np.array([SHIPPED.weights.as_dict().get(f, 0.0) for f in FEATURES] + [0.0], np.float32)
    print(f"shipped weights: {figures(rows, shipped_w)} seed={seed_figure(seed_rows, shipped_w):.3f}")
    for w_ad in (1.0, 2.0):
        w = shipped_w.copy()
        w[-1] = w_ad
        print(f"shipped weights + adapted_z {w_ad}: {figures(rows, w)} seed={seed_figure(seed_rows, w):.3f}")
    results = {}
    for label, grid in grids.items():
        results[label] = cv = cross_validate(rows, seed_rows, grid, label, NAMES)
        print(f"{label}: cv " + " ".join(f"{k}={m:.3f}±{s:.3f}" for k, (m, s) in
                                         ((k, cv[k]) for k in ("mrr", "hit10", "hit10_tw2cn", "hit10_cn2tw")))
              + f" | all pairs {cv['all_w']} {cv['all']} seed={cv['seed']:.3f}")
        sys.stdout.flush()
    a, b = results["+ adapted_z"], results["shipped features"]
    print(f"adapt_rerank cv_mrr={a['mrr'][0]:.3f} cv_hit10={a['hit10'][0]:.3f} base_cv_mrr={b['mrr'][0]:.3f} "
          f"base_cv_hit10={b['hit10'][0]:.3f} seed={a['seed']:.3f} base_seed={b['seed']:.3f}")


if __name__ == "__main__":
    main()
