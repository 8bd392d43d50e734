"""The search path at scale: build and query the product's index structures over ~1,000,000 passages.

What it does, so the figures can be read right:
- Text: every document of ../shared/corpora (cn-laws, tw-laws, cn-work-reports) goes through the product's
  own cleaning, structuring, t2s normalization and jieba tokenization. The corpora hold fewer passages than
  asked for, so whole documents are repeated under new ids until the count is reached (BM25 sees each copy).
- Vectors: a random sample of the passages (--sample) is embedded with the real model; every passage gets
  the vector of a randomly assigned sample passage plus small Gaussian noise (cosine ≈ 0.98 to it), re-normalized.
  The ANN part then sees clustered 384-d vectors of real embeddings; semantic quality is not measured here
  (benchmarks/quality.py does that).
- Build: `indexer.store.publish` writes SQLite, FAISS (exact up to EXACT_MAX passages, IVF above) and bm25s,
  exactly as `fazhi index` does; each part is timed.
- Queries: STARD train questions. BM25, dense and fused latencies go through `SearchEngine.search` with the
  query vectors computed beforehand (so they exclude encoding); one more fused run encodes each query.
- Recall@10 of the ANN index against exact search over the same vectors, for several nprobe values.

Never asserts. Needs ../shared and ~12 GB of memory at 1M passages.

    python benchmarks/scale.py [--passages 1000000] [--sample 4000] [--queries 200] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import gzip
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "benchmarks"))

from quality import load_jsonl  # noqa: E402

from core.storage.embedded import store  # noqa: E402
from core.model import Encoder  # noqa: E402
from core.textform import matching_form  # noqa: E402
from indexer.pipeline import build_document  # noqa: E402
from indexer.sources import RawDocument  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from core.filters import Filters  # noqa: E402

CORPORA = ("cn-laws", "tw-laws", "cn-work-reports")
NOISE_NORM = 0.2  # |noise| / |vector|: cosine to the source ≈ 1 / sqrt(1 + 0.2²) ≈ 0.98
SEED = 7


def _built(args: tuple[str, dict]):
    source, record = args
    raw = RawDocument(doc_id=record["id"], source=source, name=record["id"], title=record.get("title", ""),
                      text=record.get("text", ""), meta={}, record_id=record["id"])
    return build_document(raw)


def read_corpora(shared: Path, per_corpus: int = 0) -> tuple[list, list]:
    """Every corpus document (or the first `per_corpus` of each) through the product's pipeline."""
    def records():
        for name in CORPORA:
            with gzip.open(shared / "corpora" / f"{name}.jsonl.gz", "rt", encoding="utf-8") as handle:
                for n, line in enumerate(handle):
                    if per_corpus and n >= per_corpus:
                        break
                    record = json.loads(line)
                    yield f"{name}.jsonl#{record['id']}", record

    docs, passages = [], []
    with multiprocessing.Pool(os.cpu_count()) as pool:
        for doc, doc_passages in pool.imap(_built, records(), chunksize=16):
            if doc_passages:
                docs.append(doc)
                passages.extend(doc_passages)
    return docs, passages


def repeated(docs: list, passages: list, target: int) -> tuple[list, list]:
    """Documents repeated under new ids (copy 1, 2, …) until there are `target` passages."""
    by_doc: dict[str, list] = {}
    for p in passages:
        by_doc.setdefault(p.doc_id, []).append(p)
    out_docs, out_passages, copy = [], [], 0
    while len(out_passages) < target:
        for doc in docs:
            if len(out_passages) >= target:
                break
            doc_id = doc.doc_id if copy == 0 else f"{doc.doc_id}~{copy}"
            own = by_doc[doc.doc_id][: target - len(out_passages)]
            out_docs.append(doc if copy == 0 else replace(doc, doc_id=doc_id, content_hash=f"{doc.content_hash}~{copy}",
                                                         n_passages=len(own)))
            out_passages.extend(p if copy == 0 else replace(p, doc_id=doc_id, passage_id=f"{doc_id}-{p.ordinal:04d}")
                                for p in own)
        copy += 1
    return out_docs, out_passages


def synthetic_vectors(sample_vectors: np.ndarray, n: int) -> np.ndarray:
    """n unit vectors: a random sample vector each, plus noise of norm NOISE_NORM, re-normalized."""
    rng = np.random.default_rng(SEED)
    dim = sample_vectors.shape[1]
    out = np.empty((n, dim), np.float32)
    for start in range(0, n, 100_000):
        m = min(100_000, n - start)
        block = sample_vectors[rng.integers(0, len(sample_vectors), m)]
        block = block + rng.normal(scale=NOISE_NORM / np.sqrt(dim), size=(m, dim)).astype(np.float32)
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def engine_memory(index_dir: Path) -> tuple[float, float]:
    """(RSS in MB, load seconds) of a fresh process that loads the index and answers one BM25 query."""
    code = (
        "import sys, time; sys.path.insert(0, %r)\n"
        "t = time.time()\n"
        "from search.engine import SearchEngine\n"
        "e = SearchEngine(%r); e.search('合同', mode='bm25')\n"
        "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS')][0].split()[1]\n"
        "print(int(rss) / 1024, time.time() - t)\n"
    ) % (str(ROOT), str(index_dir))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    return float(out[-2]), float(out[-1])


class PrecomputedQueries:
    """An encoder whose query vectors were computed beforehand (latency without encoding)."""

    def __init__(self, inner: Encoder, vectors: dict[str, np.ndarray]) -> None:
        self.inner, self.vectors = inner, vectors
        self.name, self.dim, self.info = inner.name, inner.dim, inner.info

    def encode_queries(self, texts):
        return np.stack([self.vectors[t] for t in texts])

    def encode_passages(self, texts, show_progress=False):
        return self.inner.encode_passages(texts)


def pcts(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"{1000 * statistics.median(ordered):.1f} / {1000 * p95:.1f}"


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        started = time.perf_counter()
        fn(item)
        out.append(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--passages", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=4000, help="passages embedded with the real model")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--documents", type=int, default=0, help="read only this many documents per corpus")
    parser.add_argument("--index", type=Path, default=None, help="where to build (default: a temporary folder)")
    args = parser.parse_args()
    if not (args.shared / "corpora").is_dir():
        raise SystemExit(f"needs the corpora in {args.shared / 'corpora'}")

    started = time.perf_counter()
    docs, passages = read_corpora(args.shared, args.documents)
    unique = len(passages)
    read_seconds = time.perf_counter() - started
    docs, passages = repeated(docs, passages, args.passages)
    print(f"{unique:,} distinct passages from {len(CORPORA)} corpora (pipeline: {read_seconds:.0f}s, "
          f"{unique / read_seconds:.0f} passages/s on {os.cpu_count()} processes); repeated to "
          f"{len(passages):,} passages in {len(docs):,} documents")

    encoder = Encoder()
    rng = np.random.default_rng(SEED)
    distinct = min(unique, len(passages))  # fewer when the corpora alone exceed --passages
    sample = rng.choice(distinct, size=min(args.sample, distinct), replace=False)
    t = time.perf_counter()
    sample_vectors = encoder.encode_passages([passages[i].match_text for i in sample])
    embed_seconds = time.perf_counter() - t
    vectors = synthetic_vectors(sample_vectors, len(passages))
    print(f"embedded {len(sample)} sampled passages with {encoder.name} ({encoder.runtime}): "
          f"{len(sample) / embed_seconds:.1f} passages/s; the rest are noisy copies of these vectors\n")

    parts: dict[str, float] = {}

    def clocked(name, fn):
        def wrapper(*a, **kw):
            t0 = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                parts[name] = parts.get(name, 0.0) + time.perf_counter() - t0
        return wrapper

    import bm25s

    store.build_dense_index = clocked("FAISS", store.build_dense_index)
    bm25s.BM25.index = clocked("BM25 (bm25s)", bm25s.BM25.index)
    with tempfile.TemporaryDirectory(dir=args.index.parent if args.index else None) as tmp:
        index_dir = args.index or Path(tmp) / "index"
        t = time.perf_counter()
        version = store.publish(index_dir, docs, passages, vectors, encoder.info)
        build_seconds = time.perf_counter() - t
        manifest = store.read_manifest(version)
        disk = sum(f.stat().st_size for f in version.rglob("*") if f.is_file())
        n = len(passages)
        print(f"build (publish of {n:,} passages): {build_seconds:.0f}s in all; "
              + ", ".join(f"{k} {v:.0f}s" for k, v in parts.items())
              + f", SQLite and the rest {build_seconds - sum(parts.values()):.0f}s; dense index {manifest.dense}")
        del docs, passages

        queries = [q["query"] for q in load_jsonl(args.shared / "eval" / "stard-train.jsonl")][: args.queries]
        encode_times, query_vectors = [], {}
        for q in queries:
            t = time.perf_counter()
            query_vectors[matching_form(q.strip())] = encoder.encode_queries([matching_form(q.strip())])[0]
            encode_times.append(time.perf_counter() - t)

        loaded, load_seconds = engine_memory(index_dir)
        engine = SearchEngine(index_dir, encoder=PrecomputedQueries(encoder, query_vectors))
        engine.search(queries[0])  # warm-up
        print(f"memory: {disk / n:.0f} bytes/passage on disk ({disk / 2**30:.2f} GiB); a process serving the "
              f"index holds {loaded:.0f} MB RSS = {loaded * 2**20 / n:.0f} bytes/passage, model excluded "
              f"(load {load_seconds:.0f}s)\n")

        print(f"| {len(queries)} STARD queries, k=10 | p50 / p95 ms |")
        print("|---|---|")
        print(f"| query encoding alone ({encoder.runtime}) | {pcts(encode_times)} |")
        for mode, label in (("bm25", "BM25"), ("dense", "dense"), ("hybrid", "fused (BM25 + dense, RRF)")):
            print(f"| {label}, without encoding | {pcts(timed(lambda q: engine.search(q, mode=mode), queries))} |")
        traditional = Filters(script=("traditional",))
        print(f"| fused, filtered to Traditional-script documents, without encoding | "
              f"{pcts(timed(lambda q: engine.search(q, filters=traditional), queries))} |")
        engine._encoder = encoder  # the real encoder: the whole query path
        engine._query_cache.clear()
        print(f"| fused, with query encoding | {pcts(timed(lambda q: engine.search(q), queries))} |\n")

        dense = engine._state.dense
        if dense.approximate:
            stored = dense.index.reconstruct_n(0, dense.size)
            qv = np.stack([query_vectors[matching_form(q.strip())] for q in queries])
            exact = np.argsort(-(qv @ stored.T), axis=1)[:, :10]
            print(f"| IVF nprobe (nlist {dense.index.nlist}) | recall@10 vs exact | dense search p50 / p95 ms |")
            print("|---|---|---|")
            for nprobe in (8, 16, 32, 48, 64, 96):
                dense.index.nprobe = nprobe
                found = [[p for p, _ in dense.top(v, 10)] for v in qv]
                recall = np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)])
                mark = " (default)" if nprobe == manifest.dense["nprobe"] else ""
                print(f"| {nprobe}{mark} | {recall:.3f} | {pcts(timed(lambda v: dense.top(v, 10), qv))} |")


if __name__ == "__main__":
    main()
