"""The search path at scale: build and query the product's index structures over ~1,000,000 passages.

What it does, so the figures can be read right:
- Text: every document of ../shared/corpora (cn-laws, tw-laws, cn-work-reports) goes through the product's
  own cleaning, structuring, t2s normalization and jieba tokenization. The corpora hold fewer passages than
  asked for, so whole documents are repeated under new ids until the count is reached (BM25 sees each copy).
- Vectors: a random sample of the passages (--sample) is embedded with the real model; every passage gets
  the vector of a randomly assigned sample passage plus small Gaussian noise (cosine ≈ 0.98 to it), re-normalized.
  The ANN part then sees clustered 384-d vectors of real embeddings; semantic quality is not measured here
  (benchmarks/quality.py does that).
- Build: `store.publish` writes one segment: SQLite, FAISS (exact up to EXACT_MAX passages, IVF-SQ8 above,
  with vectors.npy) and the postings, exactly as `fazhi index` does; each part is timed.
- Queries: STARD train questions. BM25, dense and fused latencies go through `SearchEngine.search` with the
  query vectors computed beforehand (so they exclude encoding); one more fused run encodes each query.
  Every engine first answers each query once, untimed: the match levels find each query term's
  occurrences once per process (a scan of every passage's text where there is no character index), and
  the timed rows then measure what a serving process pays for a query it has seen terms of.
- Recall@10 of the ANN index against exact search over the float32 vectors, for several nprobe values.
- Before and after (issue 17, part 2), in one run: the built version's base segment has IVF-SQ8 cells whose
  candidates are re-ranked from fp16 vectors.npy ("after"); beside it, a copy whose base has IVF-fp16
  cells on the same trained centroids and no vectors.npy, read with a direct map, as main wrote and reads
  them ("before"; every other file is a hard link of the same segment). For both: RSS of a fresh serving
  process after 50 fused queries (anonymous and file-backed; and the anonymous RSS right after loading,
  before any query builds the match levels' structures), recall@10 against exact, dense and fused p50 / p95
  without encoding. The last line reads
  `scale passages=… ram_bytes_per_passage=… recall10=… fused_p50_ms=… add_one_s=… delete_one_s=…` (after).
- Incremental publishing (issue 17): at the built size, one work report is added again under a new id (its
  passages encoded by the real model) and another is deleted; each is timed from the start of the change
  until the serving engine's next search reflects it (encode, publish, open the new version, first search).
  The result is then compared with a full rebuild of the same documents and vectors: positions, BM25 top 10
  and scores, and dense top-10 overlap (the rebuild trains IVF cells of its own). `--merge` also times a full
  merge into a new base.

Never asserts. Needs ../shared and ~12 GB of memory at 1M passages. `--exact-max 100000` makes a 200,000-passage
base IVF, as a million's is (RAM per passage then carries fixed costs, ~130 MB, over a fifth of the passages).

    python benchmarks/scale.py [--passages 1000000] [--sample 4000] [--queries 200] [--shared ../shared]
        [--documents N] [--sample-vectors FILE.npy] [--exact-max N] [--merge]
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


def engine_memory(index_dir: Path, queries: list[str], label: str) -> dict:
    """RSS in MB (all, anonymous, file-backed; anonymous right after loading) and load seconds of a fresh
    process that loads the index and answers the queries as a serving process does (`SearchEngine.search`
    with its defaults: BM25 and dense fused, match levels on). The model is excluded: query vectors come
    from a stub (seeded random unit vectors), since the model's ~400 MB do not grow with the index."""
    code = (
        "import sys, time, json; sys.path.insert(0, %r)\n"
        "import numpy as np\n"
        "def status(): return {l.split(':')[0]: int(l.split()[1]) / 1024 for l in open('/proc/self/status') if l.startswith(('VmRSS', 'RssAnon', 'RssFile'))}\n"
        "t = time.time()\n"
        "from search.engine import SearchEngine\n"
        "from core.storage.embedded.store import current_version_dir, read_manifest\n"
        "class Stub:\n"
        "    def __init__(self, info): self.info, self.name, self.dim = info, info.name, info.dim; self.rng = np.random.default_rng(0)\n"
        "    def encode_queries(self, texts):\n"
        "        v = self.rng.normal(size=(len(texts), self.dim)).astype(np.float32); return v / np.linalg.norm(v, axis=1, keepdims=True)\n"
        "    encode_passages = encode_queries\n"
        "e = SearchEngine(%r, encoder=Stub(read_manifest(current_version_dir(%r)).model))\n"
        "loaded = time.time() - t; after_load = status()['RssAnon']\n"
        "for q in json.loads(%r):\n"
        "    e.search(q)\n"
        "st = status()\n"
        "print(after_load, st['RssAnon'], st['RssFile'], st['VmRSS'], loaded)\n"
    ) % (str(ROOT), str(index_dir), str(index_dir), json.dumps(queries, ensure_ascii=False))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    figures = {"anon_loaded": float(out[-5]), "anon": float(out[-4]), "file": float(out[-3]), "rss": float(out[-2]),
               "load": float(out[-1])}
    print(f"  {label}: RSS {figures['rss']:.0f} MB = {figures['anon']:.0f} MB anonymous + {figures['file']:.0f} MB "
          f"file-backed (memory-mapped files, libraries); anonymous {figures['anon_loaded']:.0f} MB after loading")
    return figures


def fp16_copy(version: Path, vectors: np.ndarray, dim: int, index_dir: Path) -> tuple[float, dict]:
    """The same version in another index folder with its base segment's IVF cells as fp16 on the same
    trained centroids and no vectors.npy (the layout main writes and reads); (seconds to build its FAISS
    index, its dense description). The other files are hard links (the same SQLite and postings)."""
    import shutil

    import faiss

    shutil.copytree(version, index_dir / "versions" / version.name, copy_function=os.link)
    (index_dir / store.CURRENT).write_text(version.name + "\n", encoding="utf-8")
    (segment,) = store.segment_refs(store.read_manifest(version))  # a fresh build is one segment
    source = version.parent.parent / "segments" / segment.name
    target = index_dir / "segments" / segment.name
    shutil.copytree(source, target, copy_function=os.link,
                    ignore=shutil.ignore_patterns("dense.faiss", "manifest.json", store.VECTORS_FILE))
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("dense", {}).get("type") != "ivf":
        shutil.copy2(source / "dense.faiss", target / "dense.faiss")
        shutil.copy2(source / "manifest.json", target / "manifest.json")
        return 0.0, manifest.get("dense", {})
    after = faiss.read_index(str(source / "dense.faiss"))
    t = time.perf_counter()  # the same cells (k-means is not run again), fp16 in them, nprobe tuned on it
    index = store.ivf_index(faiss.downcast_index(after.quantizer), dim, after.nlist, "fp16")
    index.train(vectors[:1000])  # fp16 has nothing to learn; FAISS asks for the call
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    info = {**store.tuned_info(index, vectors, "fp16"), "trained_on": manifest["dense"].get("trained_on")}
    faiss.write_index(index, str(target / "dense.faiss"))
    manifest["dense"] = info
    (target / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    version_manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    (index_dir / "versions" / version.name / "manifest.json").unlink()
    (index_dir / "versions" / version.name / "manifest.json").write_text(
        json.dumps({**version_manifest, "dense": info}, ensure_ascii=False, indent=1), encoding="utf-8")
    return time.perf_counter() - t, info


def warmed(engine: SearchEngine, queries: list[str]) -> None:
    """Each query once, untimed: the match levels' structures and each query term's occurrences are built
    and cached (per process), as a serving process has after its first requests; then the timed rows
    compare retrieval, the same way for both layouts."""
    for q in queries:
        engine.search(q)


class PrecomputedQueries:
    """An encoder whose query vectors were computed beforehand (latency without encoding)."""

    def __init__(self, inner: Encoder, vectors: dict[str, np.ndarray]) -> None:
        self.inner, self.vectors = inner, vectors
        self.name, self.dim, self.info = inner.name, inner.dim, inner.info

    def encode_queries(self, texts):
        return np.stack([self.vectors[t] for t in texts])

    def encode_passages(self, texts, show_progress=False):
        return self.inner.encode_passages(texts)


ALTERNATION_BLOCK = 10  # items per turn. Turns of one query each cost ~1.5 ms more a fused search at 1M (two
# million-passage engines evicting each other's working sets from the CPU caches), which a server with one
# engine never pays; turns of 10 still put a shared machine's load on both alike.


def timed_alternately(fns: dict, items, block: int = ALTERNATION_BLOCK) -> dict[str, list[float]]:
    """Seconds of each item through every function, in turns of `block` items, the order of the functions
    reversed every turn: load on a shared machine falls on all alike."""
    out: dict[str, list[float]] = {k: [] for k in fns}
    items = list(items)
    for turn, start in enumerate(range(0, len(items), block)):
        order = list(fns.items()) if turn % 2 == 0 else list(fns.items())[::-1]
        for k, fn in order:
            for item in items[start:start + block]:
                started = time.perf_counter()
                fn(item)
                out[k].append(time.perf_counter() - started)
    return out


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
    parser.add_argument("--exact-max", type=int, default=None, help="passages searched exactly (default: the product's)")
    parser.add_argument("--merge", action="store_true", help="also time a full merge after the add and delete")
    parser.add_argument("--sample-vectors", type=Path, default=None,
                        help=".npy of real passage vectors to use instead of embedding --sample passages")
    args = parser.parse_args()
    if args.exact_max is not None:
        store.EXACT_MAX = args.exact_max
    if not (args.shared / "corpora").is_dir():
        raise SystemExit(f"needs the corpora in {args.shared / 'corpora'}")

    started = time.perf_counter()
    docs, passages = read_corpora(args.shared, args.documents)
    unique = len(passages)
    read_seconds = time.perf_counter() - started
    docs, passages = repeated(docs, passages, args.passages)
    docs, passages, _ = store.ordered(docs, passages, np.zeros((len(passages), 0), np.float32))  # position order
    print(f"{unique:,} distinct passages from {len(CORPORA)} corpora (pipeline: {read_seconds:.0f}s, "
          f"{unique / read_seconds:.0f} passages/s on {os.cpu_count()} processes); repeated to "
          f"{len(passages):,} passages in {len(docs):,} documents")

    encoder = Encoder()
    if args.sample_vectors:  # real embeddings computed elsewhere (a busy machine embeds a few passages a second)
        sample_vectors = np.load(args.sample_vectors)[: args.sample].astype(np.float32)
        vectors = synthetic_vectors(sample_vectors, len(passages))
        print(f"{len(sample_vectors)} real {encoder.name} passage vectors from {args.sample_vectors}; every passage "
              f"gets a noisy copy of one\n")
    else:
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

    store.build_dense_index = clocked("FAISS", store.build_dense_index)
    store.write_dense = clocked("dense files", store.write_dense)
    store.write_postings = clocked("postings", store.write_postings)
    with tempfile.TemporaryDirectory(dir=args.index.parent if args.index else None) as tmp:
        index_dir = args.index or Path(tmp) / "index"
        t = time.perf_counter()
        version = store.publish(index_dir, docs, passages, vectors, encoder.info)
        build_seconds = time.perf_counter() - t
        manifest = store.read_manifest(version)
        disk = sum(f.stat().st_size for f in index_dir.rglob("*") if f.is_file())  # the version and its segment
        n = len(passages)
        print(f"build (publish of {n:,} passages): {build_seconds:.0f}s in all; "
              + ", ".join(f"{k} {v:.0f}s" for k, v in parts.items())
              + f", SQLite and the rest {build_seconds - sum(parts.values()):.0f}s; dense index {manifest.dense}")
        # docs, passages and the float32 vectors stay: exact search for recall, the "before" index, the rebuild

        queries = [q["query"] for q in load_jsonl(args.shared / "eval" / "stard-train.jsonl")][: args.queries]
        encode_times, query_vectors = [], {}
        for q in queries:
            t = time.perf_counter()
            query_vectors[matching_form(q.strip())] = encoder.encode_queries([matching_form(q.strip())])[0]
            encode_times.append(time.perf_counter() - t)
        qv = np.stack([query_vectors[matching_form(q.strip())] for q in queries])
        exact = exact_top10(qv, vectors)

        before_dir = Path(tmp) / "before"
        before_seconds, before_dense = fp16_copy(version, vectors, encoder.dim, before_dir)
        memory = {}
        for label, folder in (("before", before_dir), ("after", index_dir)):
            memory[label] = engine_memory(folder, queries[:50], label)
        loaded, load_seconds = memory["after"]["rss"], memory["after"]["load"]
        print(f"memory: {disk / n:.0f} bytes/passage on disk ({disk / 2**30:.2f} GiB); a process serving the "
              f"index holds {loaded:.0f} MB RSS = {loaded * 2**20 / n:.0f} bytes/passage, model excluded "
              f"(load {load_seconds:.0f}s)\n")

        engines = {label: SearchEngine(folder, encoder=PrecomputedQueries(encoder, query_vectors))
                   for label, folder in (("before", before_dir), ("after", index_dir))}
        for other in engines.values():
            warmed(other, queries)
        parts_of = {label: e._state.dense.parts[0] for label, e in engines.items()}  # a fresh build: one segment
        recalls = {label: recall10(d, qv, exact) for label, d in parts_of.items()}
        retrieval = timed_alternately({k: (lambda v, d=d: d.top(v, 200)) for k, d in parts_of.items()}, qv)
        dense_times = timed_alternately({k: (lambda q, e=e: e.search(q, mode="dense")) for k, e in engines.items()},
                                        queries)
        fused_times = timed_alternately({k: (lambda q, e=e: e.search(q)) for k, e in engines.items()}, queries)
        engine, dense = engines.pop("after"), parts_of.pop("after")
        engines.clear()
        parts_of.clear()  # the before layout's engine is not needed any more
        recall_after, fused_after = recalls["after"], fused_times["after"]

        print(f"| {len(queries)} STARD queries, k=10, after | p50 / p95 ms |")
        print("|---|---|")
        print(f"| query encoding alone ({encoder.runtime}) | {pcts(encode_times)} |")
        for mode, label in (("bm25", "BM25"), ("hybrid", "fused (BM25 + dense scores), min_match any")):
            print(f"| {label}, without encoding | "
                  f"{pcts(timed(lambda q: engine.search(q, mode=mode, min_match='any'), queries))} |")
        traditional = Filters(script=("traditional",))
        print(f"| fused, filtered to Traditional-script documents, without encoding | "
              f"{pcts(timed(lambda q: engine.search(q, filters=traditional), queries))} |")
        engine._encoder = encoder  # the real encoder: the whole query path
        engine._query_cache.clear()
        print(f"| fused, with query encoding | {pcts(timed(lambda q: engine.search(q), queries))} |\n")

        if dense.approximate:
            rerank = f" + re-rank of n + {dense.rerank_extra} from fp16 vectors.npy" if dense.stored is not None else ""
            print(f"| IVF-{manifest.dense.get('codec', 'flat')}{rerank}, nprobe (nlist {dense.index.nlist}) "
                  f"| recall@10 vs exact float32 | dense search of 10 p50 / p95 ms | of 200 (fusion's) p50 / p95 ms |")
            print("|---|---|---|---|")
            default = dense.index.nprobe
            for nprobe in (16, 32, 48, 64, 96, 128):
                dense.index.nprobe = nprobe
                mark = " (default)" if nprobe == manifest.dense["nprobe"] else ""
                print(f"| {nprobe}{mark} | {recall10(dense, qv, exact):.3f} | {pcts(timed(lambda v: dense.top(v, 10), qv))} "
                      f"| {pcts(timed(lambda v: dense.top(v, 200), qv))} |")
            dense.index.nprobe = default
            if dense.stored is not None:
                codes = dense.index.search(qv, 10)[1]
                print(f"\nSQ8 codes alone, without the re-rank (nprobe {default}): recall@10 "
                      f"{np.mean([len(set(f) & set(e)) / 10 for f, e in zip(codes, exact)]):.3f}. The re-rank reads "
                      f"{10 + dense.rerank_extra} rows for a search of 10 and {200 + dense.rerank_extra} for fusion's "
                      f"200, {dense.stored.row_bytes} bytes each, with pread: page cache, not the process's memory.")
            print()

        seconds = {"before": before_seconds, "after": parts.get("FAISS", 0)}
        denses = {"before": before_dense, "after": manifest.dense}
        print(f"| at {n:,} passages | before (IVF-fp16 cells + direct map, as main) | after (IVF-SQ8 cells, "
              f"top n + {store.IVF_RERANK_EXTRA} re-ranked from fp16 vectors.npy by pread, no direct map) |")
        print("|---|---|---|")
        print("| RSS of a serving process after 50 queries, model excluded | " + " | ".join(
            f"{m['rss']:.0f} MB = {m['rss'] * 2**20 / n:.0f} bytes/passage" for m in memory.values()) + " |")
        print("| of which anonymous / file-backed | " + " | ".join(
            f"{m['anon'] * 2**20 / n:.0f} / {m['file'] * 2**20 / n:.0f} bytes/passage" for m in memory.values()) + " |")
        print("| anonymous right after loading (before the match levels' structures) | " + " | ".join(
            f"{m['anon_loaded']:.0f} MB = {m['anon_loaded'] * 2**20 / n:.0f} bytes/passage" for m in memory.values()) + " |")
        print("| dense index | " + " | ".join(str(denses[k]) for k in memory) + " |")
        print("| recall@10 vs exact float32 (default nprobe) | " + " | ".join(f"{recalls[k]:.3f}" for k in memory) + " |")
        print("| dense retrieval alone (the base's top 200, fusion's candidates) p50 / p95 ms | " + " | ".join(
            pcts(retrieval[k]) for k in memory) + " |")
        print("| dense search (`mode=dense`) p50 / p95 ms, without encoding | " + " | ".join(
            pcts(dense_times[k]) for k in memory) + " |")
        print("| fused search p50 / p95 ms, without encoding (defaults: min_match weak) | " + " | ".join(
            pcts(fused_times[k]) for k in memory) + " |")
        print("| FAISS build s | " + " | ".join(f"{seconds[k]:.0f}" for k in memory) + " |\n")
        timing = incremental(index_dir, engine, encoder, docs, passages, vectors, queries, Path(tmp) / "rebuilt",
                             full_publish_s=build_seconds, merge=args.merge)
        print(f"scale passages={n} ram_bytes_per_passage={loaded * 2**20 / n:.0f} recall10={recall_after:.3f} "
              f"fused_p50_ms={1000 * statistics.median(fused_after):.1f} add_one_s={timing['add']:.2f} "
              f"delete_one_s={timing['delete']:.2f}")


PROBE = "增量发布探针甲乙丙丁"  # a phrase no corpus passage has: the added report's first passage carries it


def added_report(docs: list, passages: list) -> tuple:
    """A work report from the corpora under a new id and name, its first passage carrying PROBE."""
    from core.textform import tokenize

    source = next(d for d in docs if d.source.startswith("cn-work-reports") and "~" not in d.doc_id)
    doc_id = "added-report"
    own = [p for p in passages if p.doc_id == source.doc_id]
    doc = replace(source, doc_id=doc_id, name=f"{source.name}-added", source=f"{source.source}-added",
                  content_hash="added", n_passages=len(own))
    added = [replace(p, doc_id=doc_id, passage_id=f"{doc_id}-{p.ordinal:04d}") for p in own]
    first = matching_form(PROBE)
    added[0] = replace(added[0], text=added[0].text + PROBE, match_text=added[0].match_text + first,
                       tokens=added[0].tokens + tokenize(first))
    return doc, added


def incremental(index_dir: Path, engine, encoder, docs: list, passages: list, vectors: np.ndarray,
                queries: list[str], rebuilt_dir: Path, full_publish_s: float, merge: bool = False) -> dict:
    """Add one report, then delete another, each timed until the serving engine's next search reflects it;
    then the results against a full rebuild of the same documents (BM25 exactly, dense top-10 overlap)."""
    from core.storage.base import IndexChanges
    from core.storage.embedded import EmbeddedStorage

    storage = EmbeddedStorage(index_dir)
    doc, added = added_report(docs, passages)
    reports = [d for d in docs if d.source.startswith("cn-work-reports") and "~" not in d.doc_id]
    victim = reports[1]  # another report than the one added again

    victim_passage = next(p for p in passages if p.doc_id == victim.doc_id)
    for query in (PROBE, victim_passage.text[:40]):  # each probe query once before: its terms' first scan of the
        engine.search(query, k=10, mode="bm25", min_match="any")  # texts is the query's cost, not the change's
    t0 = time.perf_counter()
    added_vectors = encoder.encode_passages([p.match_text for p in added])
    t_encode = time.perf_counter() - t0
    with storage.writer_lock():
        storage.publish_changes(IndexChanges([doc], added, added_vectors, []), encoder.info)
    t_publish = time.perf_counter() - t0 - t_encode
    engine.refresh()
    t_open = time.perf_counter() - t0 - t_encode - t_publish
    hits = engine.search(PROBE, k=3, mode="bm25", min_match="any").hits
    add_s = time.perf_counter() - t0
    assert hits and hits[0].doc_id == doc.doc_id, "the added report is not found"
    print(f"add one report ({len(added)} passages): {add_s:.2f}s until the serving engine finds it = encode "
          f"{t_encode:.2f}s + publish {t_publish:.2f}s + open the new version {t_open:.2f}s + first search "
          f"{add_s - t_encode - t_publish - t_open:.2f}s (full publish of the same index: {full_publish_s:.0f}s)")

    t0 = time.perf_counter()
    with storage.writer_lock():
        storage.publish_changes(IndexChanges(removed=[victim.doc_id]), encoder.info)
    t_publish = time.perf_counter() - t0
    engine.refresh()
    hits = engine.search(victim_passage.text[:40], k=10, mode="bm25", min_match="any").hits
    delete_s = time.perf_counter() - t0
    assert victim.doc_id not in engine._state.documents and all(h.doc_id != victim.doc_id for h in hits)
    print(f"delete one report ({victim.n_passages} passages): {delete_s:.2f}s until the serving engine no longer "
          f"finds it (publish {t_publish:.2f}s)")
    from core.storage.embedded import segments as segment_cache
    from core.storage.embedded.reader import EmbeddedReader

    t0 = time.perf_counter()
    segment_cache._OPEN.clear()  # as a process that has nothing open yet
    cold = EmbeddedReader(store.current_version_dir(index_dir))
    print(f"a process opening the version cold: {time.perf_counter() - t0:.1f}s; segments "
          f"{[s.size for s in cold.segments]}")

    keep = [i for i, p in enumerate(passages) if p.doc_id != victim.doc_id]
    t0 = time.perf_counter()
    store.publish(rebuilt_dir, [d for d in docs if d.doc_id != victim.doc_id] + [doc],
                  [passages[i] for i in keep] + added, np.concatenate([vectors[keep], added_vectors]), encoder.info)
    rebuild_s = time.perf_counter() - t0
    rebuilt = EmbeddedReader(store.current_version_dir(rebuilt_dir))
    live = engine._state
    same_ids = list(live.doc_of_pos) == list(rebuilt.doc_of_pos)
    from core.filters import Filters as F
    from core.textform import tokenize_query

    lexical_same = score_diff = 0.0
    dense_overlap = []
    for q in queries:
        tokens = tokenize_query(matching_form(q.strip()))
        a, b = live.lexical_top(tokens, 10, F(), None), rebuilt.lexical_top(tokens, 10, F(), None)
        lexical_same += a == b
        score_diff = max(score_diff, float(np.abs(live.lexical.scores(tokens) - rebuilt.lexical.scores(tokens)).max()))
        v = engine._encoder.encode_queries([matching_form(q.strip())])[0]
        x, y = live.dense_top(v, 10, F(), None), rebuilt.dense_top(v, 10, F(), None)
        dense_overlap.append(len(set(x) & set(y)) / 10)
    print(f"after the add and the delete, against a full rebuild ({rebuild_s:.0f}s): positions the same: {same_ids}; "
          f"BM25 top 10 the same for {lexical_same / len(queries):.1%} of {len(queries)} queries, largest score "
          f"difference {score_diff:.2g}; dense top-10 overlap {np.mean(dense_overlap):.3f} (the rebuild trains "
          f"its own IVF cells)")
    if merge:
        t0 = time.perf_counter()
        store.merge(index_dir, "full")
        print(f"full merge into a new base (trained IVF cells kept): {time.perf_counter() - t0:.0f}s")
    return {"add": add_s, "delete": delete_s}


def exact_top10(qv: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Exact top 10 of each query over the float32 vectors, a block at a time."""
    best_ids = np.zeros((len(qv), 0), np.int64)
    best_scores = np.zeros((len(qv), 0), np.float32)
    for start in range(0, len(vectors), 200_000):
        block = qv @ vectors[start : start + 200_000].T
        top = np.argpartition(-block, min(10, block.shape[1] - 1), axis=1)[:, :10]
        best_ids = np.concatenate([best_ids, top + start], axis=1)
        best_scores = np.concatenate([best_scores, np.take_along_axis(block, top, axis=1)], axis=1)
        keep = np.argsort(-best_scores, axis=1)[:, :10]
        best_ids, best_scores = np.take_along_axis(best_ids, keep, 1), np.take_along_axis(best_scores, keep, 1)
    return best_ids


def recall10(dense, qv: np.ndarray, exact: np.ndarray) -> float:
    found = [[p for p, _ in dense.top(v, 10)] for v in qv]
    return float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))

if __name__ == "__main__":
    main()
