"""Late interaction in find-similar's second stage: does MaxSim over e5's token embeddings pick the counterpart?

    python benchmarks/late_interaction.py [--shared ../shared] [--cache /work/cache/xs]

The last lever of issue 12's list not yet measured. No training: the product's own model
(multilingual-e5-small, fp32 torch, the ONNX graph pools inside) gives each token of `passage: ` + matching
text a vector (the prefix's tokens and </s> dropped, each L2-normalised). `maxsim_z` is ColBERT's MaxSim
(each source token's best cosine over the candidate's tokens, averaged over the source), as a z-score among
the candidates of the same document like `cosine_z`; `maxsim_r_z` the same from the candidate's side.
Candidates are the shipped second stage's (similar.py's `collect`); their token vectors are cached in
CACHE/tokens-dev.pkl. Then the same 5-fold cross-validation by pair as `similar.py --tune` and
`adapt_rerank.py` (same shuffle, documents in first-stage order as shipped). Never asserts. Last line:
`late_interaction cv_mrr=… cv_hit10=… base_cv_mrr=… base_cv_hit10=… seed=… base_seed=… total_s=…`
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import similar  # noqa: E402
from similar import GRID, SHIPPED, collect, collect_seeds, cross_validate, engines, seed_figure  # noqa: E402
from core.model import Encoder, resolve_model_path  # noqa: E402
from core.settings import DEFAULT_MODEL, default_cache_dir  # noqa: E402
from core.textform import matching_form  # noqa: E402
from search.rerank import FEATURES, group_z  # noqa: E402

NAMES = FEATURES + ("maxsim_z", "maxsim_r_z")
PREFIX_TOKENS = 3  # <s> ▁passage : (XLM-R's tokens of e5's "passage: " prefix), dropped with the final </s>
_model = None


def model():
    """The default e5 model folder in sentence-transformers (fp32 torch: the ONNX graph returns pooled vectors)."""
    global _model
    if _model is None:
        from sentence_transformers import SentenceTransformer

        path = resolve_model_path(DEFAULT_MODEL, Path(default_cache_dir(os.environ)), True)
        _model = SentenceTransformer(str(path), device="cpu")
        _model.max_seq_length = 512
    return _model


def tokens(texts: list[str]) -> list[np.ndarray]:
    """Each text's token vectors (prefix and </s> dropped, L2-normalised, fp16)."""
    out = model().encode(["passage: " + t for t in texts], output_value="token_embeddings", batch_size=16,
                         show_progress_bar=False)
    result = []
    for e in out:
        e = e.float().numpy()[PREFIX_TOKENS:-1]
        if not len(e):
            e = np.zeros((1, e.shape[1]), np.float32)
        e = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-9)
        result.append(e.astype(np.float16))
    return result


def token_cache(state, positions, path: Path) -> dict[int, np.ndarray]:
    """Token vectors of the passages at `positions`, by position (cached in `path`)."""
    cache = pickle.loads(path.read_bytes()) if path.exists() else {}
    todo = sorted({int(p) for p in positions} - set(cache))
    if todo:
        started = time.time()
        records = state.passages_at(todo)
        order = np.argsort([len(r.match_text) for r in records])  # length-sorted batches: little padding
        for i in range(0, len(order), 64):
            chunk = order[i:i + 64]
            cache.update(zip([todo[j] for j in chunk], tokens([records[j].match_text for j in chunk])))
        print(f"token-embedded {len(todo)} passages in {time.time() - started:.0f}s", file=sys.stderr)
        path.write_bytes(pickle.dumps(cache))
    return cache


def add(rows: list[dict], state, cache: dict) -> None:
    """Append maxsim_z and maxsim_r_z to each row's feature matrix (each z-scored within its document)."""
    for row in rows:
        source = row["source"]
        pos = source.origin_pos
        whole = pos is not None and np.allclose(source.vector, state.vector_at(pos))
        query = (cache[pos] if whole and pos in cache else tokens([matching_form(source.body)])[0]).astype(np.float32)
        if not len(row["pos"]):
            row["X"] = np.zeros((0, len(NAMES)), np.float32)
            continue
        forward, backward = [], []
        for p in row["pos"]:
            sim = query @ cache[int(p)].astype(np.float32).T
            forward.append(sim.max(1).mean())  # each source token's best match in the candidate
            backward.append(sim.max(0).mean())  # each candidate token's best match in the source
        codes = row["codes"]
        n = int(codes.max()) + 1
        row["X"] = np.column_stack([row["X"], group_z(np.array(forward, np.float64), codes, n),
                                    group_z(np.array(backward, np.float64), codes, n)]).astype(np.float32)


def figures(rows: list[dict], w: np.ndarray) -> dict:
    """similar.py's figures with documents in first-stage order (as shipped)."""
    return similar.figures(rows, w, "fused")


def weights(**values: float) -> np.ndarray:
    """A weight vector over NAMES."""
    return np.array([values.get(n, 0.0) for n in NAMES], np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/xs"))
    args = parser.parse_args()
    started = time.time()
    encoder = Encoder()
    dev, seeds, seeds_dir = engines(args.shared, args.cache, encoder)
    rows = collect(dev, args.shared, SHIPPED)
    seed_rows = collect_seeds(seeds, SHIPPED)
    positions = np.concatenate([r["pos"] for r in rows])
    origins = [r["source"].origin_pos for r in rows if r["source"].origin_pos is not None]
    print(f"{len(positions)} candidates, {len(set(positions.tolist()))} passages", file=sys.stderr)
    add(rows, dev._state, token_cache(dev._state, [*positions, *origins], args.cache / "tokens-dev.pkl"))
    add(seed_rows, seeds._state,
        token_cache(seeds._state, range(len(seeds._state.doc_of_pos)), Path(seeds_dir.name) / "tokens.pkl"))
    shipped = SHIPPED.weights.as_dict()
    for label, w in [("shipped weights", weights(**shipped)), ("cosine_z alone", weights(cosine_z=1.0)),
                     ("maxsim_z alone", weights(maxsim_z=1.0)), ("maxsim_r_z alone", weights(maxsim_r_z=1.0))] + [
            (f"shipped weights + {name} {x}", weights(**shipped, **{name: x}))
            for name in ("maxsim_z", "maxsim_r_z") for x in (0.5, 1.0, 2.0)]:
        print(f"{label}: {figures(rows, w)} seed={seed_figure(seed_rows, w):.3f}")
    base = dict(GRID)
    grids = {
        "shipped features": base,
        "+ maxsim_z": {**base, "maxsim_z": (0.0, 1.0, 2.0)},
        "maxsim_z for cosine_z": {**{k: v for k, v in base.items() if k != "cosine_z"}, "maxsim_z": (0.0, 1.0, 2.0)},
        "+ maxsim_r_z": {**base, "maxsim_r_z": (0.0, 1.0, 2.0)},
    }
    results = {}
    for label, grid in grids.items():
        results[label] = cv = cross_validate(rows, seed_rows, grid, label, NAMES)
        print(f"{label}: cv " + " ".join(f"{k}={m:.3f}±{s:.3f}" for k, (m, s) in
                                         ((k, cv[k]) for k in ("mrr", "hit10", "hit10_tw2cn", "hit10_cn2tw")))
              + f" | all pairs {cv['all_w']} {cv['all']} seed={cv['seed']:.3f}", flush=True)
    a, b = results["+ maxsim_z"], results["shipped features"]
    print(f"late_interaction cv_mrr={a['mrr'][0]:.3f} cv_hit10={a['hit10'][0]:.3f} base_cv_mrr={b['mrr'][0]:.3f} "
          f"base_cv_hit10={b['hit10'][0]:.3f} seed={a['seed']:.3f} base_seed={b['seed']:.3f} "
          f"total_s={time.time() - started:.0f}")


if __name__ == "__main__":
    main()
