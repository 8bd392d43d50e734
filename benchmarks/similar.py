"""find-similar (issue 12): today's product, each lever alone, and what ships, side by side in one run.

For each configuration:
- the cross-script dev set scored by ../shared/eval/crossscript_eval.py itself, run in-process against the
  Flask test client (its judging, its summary line): pairs_hit@10 per direction, pairs_MRR, query_MRR;
- the seed similar tasks (benchmarks/data/seed-similar.jsonl): of the reports that have the source's
  measure, the share that come up in the top 5 (per_doc 1) with a labelled passage;
- /api/similar p50 latency on the seeds index (passage ids) and on the dev corpus (pair texts).
STARD-train fused nDCG@10 is the search path, which no lever of find-similar touches: it is measured once
(judged articles + cn-laws distractors as benchmarks/quality.py builds them) and printed for every row.

`--tune` instead cross-validates the second stage's weights on the dev pairs (5 folds by pair, both
directions of a pair in one fold) and prints per-fold and mean ± sd figures.

    python benchmarks/similar.py [--shared ../shared] [--cache /work/cache/xs] [--stard-queries N] [--tune]

Indexes are built once into --cache (dev corpus ~20 min on 2 cores, STARD ~6 min) and reused.
Last line: similar pairs_hit10_tw2cn=… pairs_hit10_cn2tw=… pairs_mrr=… query_mrr=… seed_similar=…
stard_ndcg10=… p50_ms_seeds=… p50_ms_dev=…  (the shipped configuration)
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import itertools
import json
import random
import re
import runpy
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.model import Encoder  # noqa: E402
from core.textform import to_simplified  # noqa: E402
from indexer.pipeline import index_paths  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.find_similar import first_stage, resolve_source, second_stage_candidates  # noqa: E402
from search.filters import Filters  # noqa: E402
from search.rerank import FEATURES, LEGACY, RerankWeights, SimilarConfig  # noqa: E402
from web.context import ENGINE  # noqa: E402

SEED_TASKS = ROOT / "benchmarks" / "data" / "seed-similar.jsonl"
SEED_K = 5
SHIPPED = SimilarConfig()
# Each lever alone on top of today's product, then the combination that ships.
CONFIGS = {
    "baseline (today)": LEGACY,
    "+ one source (id = text, origin and its document left out)": SimilarConfig(fold_vocabulary=False, rerank=False),
    "+ source terms (more_like_this)": SimilarConfig(source_terms=True, fold_vocabulary=False, rerank=False),
    "+ vocabulary folding (OpenCC phrases, query time)": SimilarConfig(fold_vocabulary=True, rerank=False),
    "+ second stage (within-document rerank)": SimilarConfig(fold_vocabulary=False, rerank=True),
    "shipped": SHIPPED,
}


# -- judging: the dev set's own functions ---------------------------------------------------------------
def eval_script(shared: Path) -> Path:
    return shared / "eval" / "crossscript_eval.py"


def judging(shared: Path) -> dict:
    """norm/judged/matches from crossscript_eval.py (its function definitions only, not its main code)."""
    tree = ast.parse(eval_script(shared).read_text(encoding="utf-8"))
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom, ast.FunctionDef))
            or (isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "_t2s" for t in n.targets))]
    namespace: dict = {}
    exec(compile(ast.Module(keep, type_ignores=[]), str(eval_script(shared)), "exec"), namespace)
    return namespace


class _Response(io.BytesIO):
    pass


def run_crossscript(app, shared: Path) -> dict:
    """crossscript_eval.py run in-process, its HTTP calls answered by the Flask test client."""
    client = app.test_client()

    def urlopen(req, timeout=None):
        if isinstance(req, urllib.request.Request):
            url = urllib.parse.urlsplit(req.full_url)
            answer = client.post(url.path, data=req.data, headers=dict(req.header_items()))
        else:
            url = urllib.parse.urlsplit(req)
            answer = client.get(url.path + ("?" + url.query if url.query else ""))
        if answer.status_code >= 400:
            raise RuntimeError(f"{url.path}: {answer.status_code} {answer.get_data(as_text=True)[:200]}")
        return _Response(answer.get_data())

    ev = shared / "eval"
    argv, original = sys.argv, urllib.request.urlopen
    sys.argv = [str(eval_script(shared)), "http://bench", str(ev / "crossscript-dev-corpus.jsonl.gz"),
                str(ev / "crossscript-dev-pairs.jsonl"), str(ev / "crossscript-dev-queries.jsonl")]
    urllib.request.urlopen = urlopen
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            runpy.run_path(str(eval_script(shared)), run_name="__main__")
    finally:
        sys.argv, urllib.request.urlopen = argv, original
    last = out.getvalue().strip().splitlines()[-1]
    return {k: float(v) for k, v in re.findall(r"(\S+)=([\d.]+)", last)}, out.getvalue()


# -- seed similar tasks ---------------------------------------------------------------------------------
def compact(text: str) -> str:
    return "".join(re.findall(r"\w", to_simplified(text or "")))


def seed_tasks() -> list[dict]:
    return [json.loads(line) for line in SEED_TASKS.read_text(encoding="utf-8").splitlines() if line.strip()]


def seed_score(engine: SearchEngine, tasks: list[dict], config: SimilarConfig, by: str = "passage_id",
               misses: list | None = None) -> float:
    """Share of (task, report with the measure) whose report is in the top 5 with a labelled passage."""
    prefix = {d.doc_id: d.name[:3] for d in engine._state.documents.values()}
    got = total = 0
    for task in tasks:
        source = {"passage_id": task["source"]["passage_id"]} if by == "passage_id" else {"text": task["source"]["text"]}
        hits = engine.similar(**source, k=SEED_K, per_doc=1, config=config).hits
        shown = {prefix[h.doc_id]: h for h in hits[:SEED_K]}
        for doc, labelled in task["relevant"].items():
            total += 1
            hit = shown.get(doc)
            ok = hit is not None and (
                hit.passage_id in {r["passage_id"] for r in labelled}
                or any(compact(hit.text).startswith(r["key"]) for r in labelled))
            got += ok
            if not ok and misses is not None:
                misses.append((task["id"], task["measure"], doc, hit.text[:40] if hit else None))
    return got / max(total, 1)


# -- latency --------------------------------------------------------------------------------------------
def p50_ms(app, bodies: list[dict], config: SimilarConfig) -> float:
    engine = app.extensions[ENGINE]
    engine.similar_config = config
    client = app.test_client()
    client.post("/api/similar", json=bodies[0])  # warm
    times = []
    for body in bodies:
        started = time.perf_counter()
        answer = client.post("/api/similar", json=body)
        times.append(time.perf_counter() - started)
        assert answer.status_code == 200, answer.get_data(as_text=True)[:200]
    return 1000 * statistics.median(times)


# -- STARD (search path) --------------------------------------------------------------------------------
def stard_ndcg(shared: Path, cache: Path, encoder, n_queries: int) -> tuple[float, int]:
    """Fused nDCG@10 on STARD-train (Simplified corpus of benchmarks/quality.py), index cached in `cache`."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import quality

    articles = quality.load_jsonl(shared / "eval" / "stard-articles.jsonl")
    queries = quality.load_jsonl(shared / "eval" / "stard-train.jsonl")
    judged = {str(a["id"]) for a in articles}
    queries = [q for q in queries if {str(r) for r in q["relevant"]} & judged]
    if n_queries:
        queries = queries[:n_queries]
    folder = cache / "stard"
    folder.mkdir(parents=True, exist_ok=True)
    if not (folder / "corpus.jsonl").exists():
        distractors = quality.distractor_articles(shared, 4000, {a["text"].strip() for a in articles},
                                                  {a["title"] for a in articles})
        corpus = [{"id": str(a["id"]), "title": a["title"], "text": a["text"]} for a in articles]
        corpus += [{"id": f"d{i}", **d} for i, d in enumerate(distractors)]
        with open(folder / "corpus.jsonl", "w", encoding="utf-8") as handle:
            for doc in corpus:
                handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
    index_paths([folder / "corpus.jsonl"], folder / "index", encoder=encoder)
    engine = SearchEngine(folder / "index", encoder=encoder)
    id_of = {d["doc_id"]: d["source"].rsplit("#", 1)[1] for d in engine.documents()}
    scores = []
    for q in queries:
        hits = engine.search(q["query"], k=quality.K, per_doc=1).hits
        scores.append(quality.metrics([id_of[h.doc_id] for h in hits], {str(r) for r in q["relevant"]})[2])
    return float(np.mean(scores)), len(queries)


# -- tuning the second stage ----------------------------------------------------------------------------
def collect(engine: SearchEngine, shared: Path, config: SimilarConfig) -> list[dict]:
    """For each dev pair and direction: the second stage's candidates as a feature matrix, judged."""
    j = judging(shared)
    state = engine._state
    pairs = [json.loads(l) for l in open(shared / "eval" / "crossscript-dev-pairs.jsonl", encoding="utf-8") if l.strip()]
    rows = []
    for p in pairs:
        for src, dst in (("tw", "cn"), ("cn", "tw")):
            target, source_title = j["judged"](p[dst]), j["norm"](p[src]["law"])
            source = resolve_source(state, engine._passage_vector, text=p[src]["text"])
            stage = first_stage(state, source, Filters(), config)
            cands = second_stage_candidates(state, source, stage, config, min_docs=10)
            records = state.passages_at([c.pos for c in cands])
            labels, docs, feats, fused, kept = [], [], [], [], []
            for c, r in zip(cands, records):
                doc = state.documents[r.doc_id]
                if j["norm"](doc.display_title) == source_title:
                    continue
                hit = {"title": doc.display_title, "heading_path": r.heading_path, "text": r.text}
                labels.append(bool(j["matches"](hit, target)))
                docs.append(r.doc_id)
                feats.append([c.features[f] for f in FEATURES])
                fused.append(c.fused)
                kept.append(c.pos)
            rows.append({"pair": p["id"], "direction": f"{src}2{dst}", "labels": np.array(labels, bool),
                         "docs": np.array(docs), "X": np.array(feats, np.float32).reshape(-1, len(FEATURES)),
                         "fused": np.array(fused, np.float32), "pos": np.array(kept, np.int64),
                         "source": source})
    return [prepare(r) for r in rows]


def prepare(row: dict) -> dict:
    """Document codes of a row's candidates, for vectorised ranking."""
    _, row["codes"] = np.unique(row["docs"], return_inverse=True) if len(row["docs"]) else (None, np.zeros(0, int))
    return row


def rank_of_partner(row: dict, w: np.ndarray, doc_order: str = "rerank") -> int:
    """Rank (1-based, 0 = miss beyond 10) of the partner when each document shows its best passage by X·w."""
    if not len(row["labels"]):
        return 0
    score = row["X"] @ w
    codes = row["codes"]
    order = np.lexsort((-score, codes))
    first = order[np.unique(codes[order], return_index=True)[1]]  # each document's best candidate
    head_score, head_label = score[first], row["labels"][first]
    if doc_order == "fused":
        fused = np.zeros(codes.max() + 1, np.float32)
        np.maximum.at(fused, codes, row["fused"])
        head_score = fused[codes[first]]
    hits = np.flatnonzero(head_label)
    if not len(hits):
        return 0
    rank = 1 + int((head_score > head_score[hits[0]]).sum())
    return rank if rank <= 10 else 0


def figures(rows: list[dict], w: np.ndarray, doc_order: str = "rerank") -> dict:
    ranks = [rank_of_partner(r, w, doc_order) for r in rows]
    rr = [1 / r if r else 0.0 for r in ranks]
    by_dir = {d: [x for x, r in zip(ranks, rows) if r["direction"] == d] for d in ("tw2cn", "cn2tw")}
    return {"mrr": float(np.mean(rr)), "hit10": float(np.mean([r > 0 for r in ranks])),
            **{f"hit10_{d}": float(np.mean([x > 0 for x in v])) for d, v in by_dir.items()}}


GRID = {  # the weights searched (the other features stay 0)
    "cosine_z": (0.0, 1.0, 2.0), "lexical_z": (0.0, 0.5, 1.0, 2.0), "position": (0.0, 2.0, 4.0, 8.0),
    "coverage": (0.0, 1.0), "focus": (0.0, 1.0), "bm25": (0.0, 0.5), "dense": (0.0, 0.5),
}


def fit(rows: list[dict], doc_order: str = "rerank", grid: dict = GRID,
        columns: tuple[str, ...] = FEATURES) -> tuple[np.ndarray, float]:
    """The grid's weights with the best MRR on `rows` (ties: the first, i.e. the smaller weights)."""
    best, best_w = -1.0, None
    names = list(grid)
    for values in itertools.product(*(grid[n] for n in names)):
        weights = dict(zip(names, values))
        w = np.array([weights.get(f, 0.0) for f in columns], np.float32)
        if not w.any():
            continue
        m = figures(rows, w, doc_order)["mrr"]
        if m > best + 1e-9:
            best, best_w = m, w
    return best_w, best


def cross_validate(rows: list[dict], seed_rows: list[dict], grid: dict, label: str,
                   columns: tuple[str, ...] = FEATURES, folds: int = 5) -> dict:
    """`--tune`'s 5 folds by pair for one grid over `columns` (documents in first-stage order, as shipped):
    mean ± sd of the test folds, then the all-pairs fit, its figures and its seed figure."""
    pairs = sorted({r["pair"] for r in rows})
    random.Random(12).shuffle(pairs)  # the same folds as --tune
    fold_of = {p: i % folds for i, p in enumerate(pairs)}
    tests = []
    for k in range(folds):
        w = fit([r for r in rows if fold_of[r["pair"]] != k], "fused", grid, columns)[0]
        tests.append(figures([r for r in rows if fold_of[r["pair"]] == k], w, "fused"))
        print(f"  [{label}] fold {k} {dict((n, float(x)) for n, x in zip(columns, w) if x)} "
              f"test_mrr={tests[-1]['mrr']:.3f} hit10={tests[-1]['hit10']:.3f}")
    cv = {key: (float(np.mean([t[key] for t in tests])), float(np.std([t[key] for t in tests])))
          for key in ("mrr", "hit10", "hit10_tw2cn", "hit10_cn2tw")}
    w = fit(rows, "fused", grid, columns)[0]
    cv["all_w"] = {n: float(x) for n, x in zip(columns, w) if x}
    cv["all"] = figures(rows, w, "fused")
    cv["seed"] = seed_figure(seed_rows, w)
    return cv


def collect_seeds(engine: SearchEngine, config: SimilarConfig) -> list[dict]:
    """The seed tasks' second-stage candidates, each labelled with the report it is correct for ('' if none)."""
    state = engine._state
    prefix = {d.doc_id: d.name[:3] for d in state.documents.values()}
    rows = []
    for task in seed_tasks():
        source = resolve_source(state, engine._passage_vector, passage_id=task["source"]["passage_id"])
        stage = first_stage(state, source, Filters(), config)
        cands = second_stage_candidates(state, source, stage, config)
        records = state.passages_at([c.pos for c in cands])
        correct = []
        for c, r in zip(cands, records):
            labelled = task["relevant"].get(prefix[r.doc_id], [])
            ok = r.passage_id in {x["passage_id"] for x in labelled} or any(
                compact(r.text).startswith(x["key"]) for x in labelled)
            correct.append(ok)
        rows.append(prepare({"docs": np.array([c.doc_id for c in cands]), "labels": np.array(correct, bool),
                             "X": np.array([[c.features[f] for f in FEATURES] for c in cands], np.float32),
                             "fused": np.array([c.fused for c in cands], np.float32),
                             "pos": np.array([c.pos for c in cands], np.int64), "source": source,
                             "n_relevant": len(task["relevant"])}))
    return rows


def seed_figure(rows: list[dict], w: np.ndarray | None) -> float:
    """Offline seed similar score for weights w (None: the first stage's fused order)."""
    got = total = 0
    for row in rows:
        score = row["fused"] if w is None else row["X"] @ w
        codes = row["codes"]
        order = np.lexsort((-score, codes))
        first = order[np.unique(codes[order], return_index=True)[1]]
        top = first[np.argsort(-score[first], kind="stable")][:SEED_K]
        got += int(row["labels"][top].sum())
        total += row["n_relevant"]
    return got / max(total, 1)


def first_stage_figures(rows: list[dict]) -> dict:
    """Figures when each document shows its best fused passage (the product's order, no second stage)."""
    for r in rows:
        r["X_saved"], r["X"] = r["X"], r["fused"].reshape(-1, 1)
    try:
        return figures(rows, np.ones(1, np.float32))
    finally:
        for r in rows:
            r["X"] = r.pop("X_saved")


VARIANTS = {  # first-stage variants the second stage is tuned over
    "all terms": SimilarConfig(source_terms=False, fold_vocabulary=False),
    "all terms + fold": SimilarConfig(source_terms=False, fold_vocabulary=True),
    "selected terms + fold": SimilarConfig(source_terms=True, fold_vocabulary=True),
    "all terms + fold + whole docs": SimilarConfig(source_terms=False, fold_vocabulary=True, whole_docs=10),
    "selected terms + fold + whole docs": SimilarConfig(source_terms=True, fold_vocabulary=True, whole_docs=10),
}


def tune(engine: SearchEngine, seeds: SearchEngine, shared: Path, variants: dict, folds: int = 5) -> None:
    for name, config in variants.items():
        started = time.perf_counter()
        rows = collect(engine, shared, config)
        seed_rows = collect_seeds(seeds, config)
        pairs = sorted({r["pair"] for r in rows})
        random.Random(12).shuffle(pairs)
        fold_of = {p: i % folds for i, p in enumerate(pairs)}
        print(f"== {name} (collected in {time.perf_counter() - started:.0f}s)")
        print(f"first stage only: {first_stage_figures(rows)} seed={seed_figure(seed_rows, None):.3f}")
        default = np.array([config.weights.as_dict()[f] for f in FEATURES], np.float32)
        print(f"configured weights: {figures(rows, default, config.doc_order)} seed={seed_figure(seed_rows, default):.3f}")
        for doc_order in ("rerank", "fused"):
            tests = []
            for k in range(folds):
                train = [r for r in rows if fold_of[r["pair"]] != k]
                test = [r for r in rows if fold_of[r["pair"]] == k]
                w, train_mrr = fit(train, doc_order)
                tests.append(figures(test, w, doc_order))
                print(f"  fold {k} [{doc_order}] {dict(zip(FEATURES, w.round(2).tolist()))} train_mrr={train_mrr:.3f} "
                      f"test_mrr={tests[-1]['mrr']:.3f} test_hit10={tests[-1]['hit10']:.3f} "
                      f"seed={seed_figure(seed_rows, w):.3f}")
            print(f"  cv [{doc_order}] " + " ".join(
                f"{key}={np.mean([t[key] for t in tests]):.3f}±{np.std([t[key] for t in tests]):.3f}"
                for key in ("mrr", "hit10", "hit10_tw2cn", "hit10_cn2tw")))
            w, all_mrr = fit(rows, doc_order)
            print(f"  all pairs [{doc_order}]: {dict(zip(FEATURES, w.round(2).tolist()))} mrr={all_mrr:.3f} "
                  f"seed={seed_figure(seed_rows, w):.3f}")
        sys.stdout.flush()


# -- main -----------------------------------------------------------------------------------------------
def ensure_index(source: Path, index: Path, encoder) -> Path:
    """An index of `source` in `index`, built once."""
    if not (index / "CURRENT").exists():
        print(f"indexing {source} into {index} (once) ...", file=sys.stderr)
        index_paths([source], index, encoder=encoder)
    return index


def engines(shared: Path, cache: Path, encoder, dev_index: Path | None = None):
    """The dev corpus's engine (index built once into `cache`) and a fresh seeds engine, with the seeds' folder
    (a TemporaryDirectory: keep it while the engine is used)."""
    cache.mkdir(parents=True, exist_ok=True)
    dev_jsonl = cache / "crossscript-dev.jsonl"
    if not dev_jsonl.exists():
        import gzip

        with gzip.open(shared / "eval" / "crossscript-dev-corpus.jsonl.gz", "rt", encoding="utf-8") as f:
            dev_jsonl.write_text(f.read(), encoding="utf-8")
    dev = SearchEngine(ensure_index(dev_jsonl, dev_index or cache / "index-base", encoder), encoder=encoder)
    # the seeds are indexed afresh each run (165 passages): the tasks name passages by the ids a fresh index gives
    seeds_dir = tempfile.TemporaryDirectory(prefix="fazhi-seeds-")  # removed when the run ends
    seeds = SearchEngine(ensure_index(ROOT / "data", Path(seeds_dir.name) / "index", encoder), encoder=encoder)
    return dev, seeds, seeds_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/xs"))
    parser.add_argument("--dev-index", type=Path, default=None, help="default: CACHE/index-base")
    parser.add_argument("--stard-queries", type=int, default=0, help="first N STARD-train queries (0: all)")
    parser.add_argument("--only", default="", help="comma-separated config names (substring match)")
    parser.add_argument("--tune", action="store_true")
    args = parser.parse_args()

    from web import create_app

    encoder = Encoder()
    dev, seeds, seeds_dir = engines(args.shared, args.cache, encoder, args.dev_index)
    if args.tune:
        wanted = {n: c for n, c in VARIANTS.items() if not args.only or any(o.strip() in n for o in args.only.split(","))}
        tune(dev, seeds, args.shared, wanted)
        return
    dev_app = create_app(engine=dev, testing=True)
    seed_app = create_app(engine=seeds, testing=True)
    tasks = seed_tasks()
    pairs = [json.loads(l) for l in open(args.shared / "eval" / "crossscript-dev-pairs.jsonl", encoding="utf-8")]
    dev_bodies = [{"text": p[s]["text"], "k": 10, "per_doc": 1} for p in pairs for s in ("tw", "cn")]
    seed_bodies = [{"passage_id": t["source"]["passage_id"], "k": 10, "per_doc": 1} for t in tasks]

    started = time.perf_counter()
    stard, n_stard = stard_ndcg(args.shared, args.cache, encoder, args.stard_queries)
    print(f"STARD-train fused nDCG@10 = {stard:.3f} over {n_stard} queries ({time.perf_counter() - started:.0f}s)",
          file=sys.stderr)

    wanted = [n for n in CONFIGS if not args.only or any(o.strip() in n for o in args.only.split(","))]
    results = {}
    for name in wanted:
        config = CONFIGS[name]
        started = time.perf_counter()
        dev.similar_config = seeds.similar_config = config
        xs, log = run_crossscript(dev_app, args.shared)
        misses: list = []
        seed_id = seed_score(seeds, tasks, config, "passage_id", misses)
        seed_text = seed_score(seeds, tasks, config, "text")
        results[name] = {
            "tw2cn": xs["t2s_hit@10"], "cn2tw": xs["s2t_hit@10"], "pairs_mrr": xs["pairs_MRR"],
            "query_mrr": xs["query_MRR"], "psg": xs["pairs_psg_hit@10"], "law": xs["pairs_law_hit@10"],
            "seed": seed_id, "seed_text": seed_text, "stard": stard,
            "p50_seeds": p50_ms(seed_app, seed_bodies, config), "p50_dev": p50_ms(dev_app, dev_bodies, config),
        }
        (args.cache / f"crossscript-{re.sub(r'[^a-z0-9]+', '-', name.lower()).strip('-')}.log").write_text(log)
        print(f"{name}: {results[name]} ({time.perf_counter() - started:.0f}s); seed misses: {misses}",
              file=sys.stderr)

    print(f"dev set: 40 pairs × 2 directions, 30 questions; seeds: {len(tasks)} tasks; STARD-train {n_stard} queries")
    print("| configuration | hit@10 tw→cn | hit@10 cn→tw | pairs_MRR | query_MRR | psg_hit@10 | law_hit@10 | "
          "seed similar (id) | seed similar (text) | STARD nDCG@10 | p50 ms seeds | p50 ms dev |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['tw2cn']:.3f} | {r['cn2tw']:.3f} | {r['pairs_mrr']:.3f} | {r['query_mrr']:.3f} | "
              f"{r['psg']:.3f} | {r['law']:.3f} | {r['seed']:.3f} | {r['seed_text']:.3f} | {r['stard']:.3f} | "
              f"{r['p50_seeds']:.0f} | {r['p50_dev']:.0f} |")
    r = results.get("shipped") or next(iter(results.values()))
    print(f"similar pairs_hit10_tw2cn={r['tw2cn']:.3f} pairs_hit10_cn2tw={r['cn2tw']:.3f} pairs_mrr={r['pairs_mrr']:.3f} "
          f"query_mrr={r['query_mrr']:.3f} seed_similar={r['seed']:.3f} stard_ndcg10={r['stard']:.3f} "
          f"p50_ms_seeds={r['p50_seeds']:.0f} p50_ms_dev={r['p50_dev']:.0f}")


if __name__ == "__main__":
    main()
