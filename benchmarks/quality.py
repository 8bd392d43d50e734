"""Retrieval quality on STARD (judged articles + cn-laws distractors), Simplified and Traditional corpora.

Prints Recall@10, MRR@10 and nDCG@10 for BM25, dense and fused search on stard-train queries,
indexing throughput (passages/s) and query latency (p50/p95). Never asserts.

    python benchmarks/quality.py [--shared ../shared] [--distractors 4000] [--queries N] [--runtime torch]
        [--backend milvus [--milvus-uri URI]]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import opencc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.settings import BACKENDS, Settings
from core.storage import open_storage  # noqa: E402
from core.model import Encoder
from core.settings import RUNTIMES  # noqa: E402
from indexer.pipeline import index_paths  # noqa: E402
from indexer.structure import parse_passages  # noqa: E402
from search.engine import SearchEngine  # noqa: E402

K = 10
SEED = 20240601


class CachingEncoder:
    """Wraps an Encoder; passages whose text was embedded before are not embedded again."""

    def __init__(self, encoder: Encoder) -> None:
        self.inner, self.cache = encoder, {}
        self.name, self.dim, self.runtime = encoder.name, encoder.dim, encoder.runtime

    @property
    def info(self):
        return self.inner.info

    def encode_queries(self, texts):
        return self.inner.encode_queries(texts)

    def encode_passages(self, texts, show_progress=False):
        missing = [t for t in dict.fromkeys(texts) if t not in self.cache]
        if missing:
            for text, vector in zip(missing, self.inner.encode_passages(missing)):
                self.cache[text] = vector
        return np.stack([self.cache[t] for t in texts])


def load_jsonl(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def distractor_articles(shared: Path, count: int, judged_texts: set[str], judged_titles: set[str]) -> list[dict]:
    """`count` articles split from cn-laws (fixed seed), none equal to a judged article."""
    pool = []
    with gzip.open(shared / "corpora" / "cn-laws.jsonl.gz", "rt", encoding="utf-8") as handle:
        for line in handle:
            law = json.loads(line)
            for p in parse_passages(law["text"]):
                if p.kind != "article":
                    continue
                text = law["text"][p.start : p.end]
                label, _, body = text.partition(" ")
                title = law["title"] + p.heading_path[-1]
                body = body.strip() or text
                if body.strip() in judged_texts or title in judged_titles:
                    continue
                pool.append({"title": title, "text": body})
    rng = random.Random(SEED)
    return rng.sample(pool, min(count, len(pool)))


def stard_corpus(shared: Path, distractors: int = 4000, queries_limit: int = 0) -> tuple[list[dict], list[dict]]:
    """(the judged STARD articles + `distractors` cn-laws articles, fixed seed; the train questions, the first
    `queries_limit` when set, that have a judged article), as every STARD benchmark here builds them."""
    articles = load_jsonl(shared / "eval" / "stard-articles.jsonl")
    queries = load_jsonl(shared / "eval" / "stard-train.jsonl")
    if queries_limit:
        queries = queries[:queries_limit]
    judged_ids = {str(a["id"]) for a in articles}
    queries = [q for q in queries if {str(r) for r in q["relevant"]} & judged_ids]
    extra = distractor_articles(shared, distractors, {a["text"].strip() for a in articles}, {a["title"] for a in articles})
    corpus = [{"id": str(a["id"]), "title": a["title"], "text": a["text"]} for a in articles]
    corpus += [{"id": f"d{i}", **d} for i, d in enumerate(extra)]
    return corpus, queries


def metrics(ranked: list[str], relevant: set[str]) -> tuple[float, float, float]:
    """(Recall@K, MRR@K, nDCG@K) of one ranked list of article ids."""
    top = ranked[:K]
    hits = [1.0 if doc in relevant else 0.0 for doc in top]
    recall = sum(hits) / len(relevant)
    mrr = next((1.0 / (i + 1) for i, h in enumerate(hits) if h), 0.0)
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(relevant), K)))
    return recall, mrr, dcg / ideal


def evaluate(engine: SearchEngine, queries: list[dict], id_of: dict[str, str]) -> dict:
    """Mean metrics per mode, and latency of the fused path (query encoding included)."""
    out, latencies = {}, []
    for mode in ("bm25", "dense", "hybrid"):
        scores = []
        for q in queries:
            started = time.perf_counter()
            hits = engine.search(q["query"], k=K, per_doc=1, mode=mode).hits
            if mode == "hybrid":
                latencies.append(time.perf_counter() - started)
            ranked = [id_of[h.doc_id] for h in hits]
            scores.append(metrics(ranked, {str(r) for r in q["relevant"]}))
        out[mode] = [float(np.mean([s[i] for s in scores])) for i in range(3)]
    out["latency_ms"] = (
        1000 * statistics.median(latencies), 1000 * float(np.percentile(latencies, 95)),
    )
    return out


def build(corpus: list[dict], folder: Path, encoder, backend: str = "embedded",
          milvus_uri: str = "") -> tuple[SearchEngine, dict[str, str], float, int]:
    """Index the corpus as JSONL; returns engine, doc_id → article id, seconds, passages."""
    source = folder / "corpus.jsonl"
    if not source.exists():
        with open(source, "w", encoding="utf-8") as handle:
            for doc in corpus:
                handle.write(json.dumps(doc, ensure_ascii=False) + "\n")
    storage = open_storage(Settings(index=str(folder / "index"), backend=backend,
                                    milvus_uri=milvus_uri or str(folder.parent / "milvus.db"),
                                    milvus_collection=f"stard_{folder.name.lower()}"))
    started = time.perf_counter()
    summary = index_paths([source], storage, encoder=encoder)
    seconds = time.perf_counter() - started
    engine = SearchEngine(storage, encoder=encoder)
    id_of = {d["doc_id"]: d["source"].rsplit("#", 1)[1] for d in engine.documents()}
    return engine, id_of, seconds, summary.passages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--distractors", type=int, default=4000)
    parser.add_argument("--queries", type=int, default=0, help="use only the first N train queries (0: all)")
    parser.add_argument("--model", default=None)
    parser.add_argument("--runtime", choices=RUNTIMES, default=None, help="encoder runtime (default: onnx-int8)")
    parser.add_argument("--backend", choices=BACKENDS, default="embedded")
    parser.add_argument("--milvus-uri", default="", help="default: a Milvus Lite file in a temporary folder")
    args = parser.parse_args()

    corpus, queries = stard_corpus(args.shared, args.distractors, args.queries)
    n_articles = sum(1 for d in corpus if not d["id"].startswith("d"))
    s2t = opencc.OpenCC("s2t")
    traditional = [{**d, "title": s2t.convert(d["title"]), "text": s2t.convert(d["text"])} for d in corpus]

    encoder = CachingEncoder(Encoder(args.model, runtime=args.runtime))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, docs in (("Simplified", corpus), ("Traditional", traditional)):
            folder = Path(tmp) / label
            folder.mkdir()
            engine, id_of, seconds, passages = build(docs, folder, encoder, args.backend, args.milvus_uri)
            result = evaluate(engine, queries, id_of)
            rows.append((label, passages, seconds, result))

    print(f"STARD: {n_articles} judged + {len(corpus) - n_articles} distractor articles, {len(queries)} train queries, "
          f"model {encoder.name}, runtime {encoder.runtime}, backend {args.backend}\n")
    print("| corpus | system | Recall@10 | MRR@10 | nDCG@10 |")
    print("|---|---|---|---|---|")
    for label, _, _, result in rows:
        for mode, name in (("bm25", "BM25"), ("dense", "dense"), ("hybrid", "fused (scores)")):
            r, m, n = result[mode]
            print(f"| {label} | {name} | {r:.3f} | {m:.3f} | {n:.3f} |")
    print()
    label, passages, seconds, result = rows[0]
    print(f"indexing ({label}, embedding included): {passages} passages in {seconds:.1f}s = "
          f"{passages / seconds:.1f} passages/s")
    print(f"Traditional corpus: only passages whose t2s form differs from the Simplified one were embedded again "
          f"({rows[1][2]:.1f}s)")
    for label, _, _, result in rows:
        p50, p95 = result["latency_ms"]
        print(f"fused query latency ({label}, query encoding included): p50 {p50:.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
