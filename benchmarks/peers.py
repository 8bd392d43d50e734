"""fazhi-search against the systems users would pick instead: same corpora, questions and machine, one run.

Systems (each built and queried in its own subprocess, so build time and peak RSS are its own):
- fazhi: the product, embedded backend, default settings (`indexer.pipeline.index_paths` + `SearchEngine`).
- txtai: `Embeddings` hybrid (BM25 + dense, its own fusion), the same e5 vectors, jieba tokens for its BM25.
- tantivy: Lucene-family BM25 (Tantivy) over jieba tokens (pyserini needs Java 21, which Debian here lacks).
- bm25s: bm25s alone over jieba tokens.
- faiss-flat: dense alone, FAISS IndexFlatIP over the same e5 vectors.

Fair shares, so the figures can be read right:
- Every system gets the same passages: the product's own split of each document (STARD articles are one
  passage each, mostly), each with the same context (law name, heading) and NFKC width folding. The peers
  get them in their original script; only fazhi folds Traditional into Simplified (that is its feature).
- Embeddings are computed once per text with the product's encoder (multilingual-e5-small, onnx-int8, "query: "
  and "passage: " prefixes) and cached on disk (--cache). fazhi and the dense peers read the same vectors; a
  Simplified passage has the same vector in every system. txtai takes them through its "external" vectors
  method. So no system loads a model, and query latency excludes query encoding for every system alike.
- Find-similar by text (cross-script pairs): fazhi calls `SearchEngine.similar(text=…)` as /api/similar does;
  the peers search with the source article's text (a passage-prefixed vector, the same BM25 over its tokens).
  Hits of the source law are dropped, one passage per document is kept, as the judge does through the API.
- Judging: STARD nDCG@10 as benchmarks/quality.py scores it (one row per article); the cross-script set as
  ../shared/eval/crossscript_eval.py judges a hit (its own functions, read from that file).

    python benchmarks/peers.py [--shared ../shared] [--cache /work/cache/peers] [--peers-python PY]
        [--crossscript-subset [--distractor-laws 5]] [--queries N] [--systems fazhi,txtai,...]

The last lines, one per system:
    system=<name> stard_ndcg10=… stard_trad_ndcg10=… pairs_hit10=… query_mrr=… build_s=… p50_ms=… p95_ms=… rss_mb=…
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import json
import os
import pickle
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SYSTEMS = ("fazhi", "txtai", "pyserini", "tantivy", "bm25s", "faiss-flat")
PEER_PACKAGES = {"txtai": "txtai", "pyserini": "pyserini", "tantivy": "tantivy", "bm25s": "bm25s", "faiss-flat": "faiss"}
CORPORA = ("stard", "stard-trad", "xs")
K = 10
FETCH = 200  # passages each peer returns before one-per-document grouping
XS_SEED = 17


# -- the vector cache (shared by every system; no project imports, the peers' venv reads it too) ---------------
class VectorCache:
    """Embeddings by (kind, text) in one SQLite file: kind 'q' (query prefix) or 'p' (passage prefix)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path)
        self.conn.execute("CREATE TABLE IF NOT EXISTS v (key TEXT PRIMARY KEY, vec BLOB NOT NULL)")

    @staticmethod
    def key(kind: str, text: str) -> str:
        kind = "q1" if kind == "q" else kind  # q1: queries encoded one at a time
        return hashlib.sha1(f"{kind}\x00{text}".encode("utf-8")).hexdigest()

    def get_many(self, kind: str, texts: list[str]) -> list[np.ndarray | None]:
        keys = [self.key(kind, t) for t in texts]
        found = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for k, blob in self.conn.execute(f"SELECT key, vec FROM v WHERE key IN ({marks})", chunk):
                found[k] = np.frombuffer(blob, dtype=np.float32)
        return [found.get(k) for k in keys]

    def put_many(self, kind: str, texts: list[str], vectors: np.ndarray) -> None:
        self.conn.executemany("INSERT OR REPLACE INTO v VALUES (?, ?)",
                              [(self.key(kind, t), np.asarray(v, np.float32).tobytes()) for t, v in zip(texts, vectors)])
        self.conn.commit()

    def stack(self, kind: str, texts: list[str]) -> np.ndarray:
        got = self.get_many(kind, texts)
        missing = sum(v is None for v in got)
        if missing:
            raise KeyError(f"{missing} {kind} vectors missing from the cache (run without --worker first)")
        return np.stack(got) if got else np.zeros((0, 384), np.float32)


def peer_form(text: str) -> str:
    """What a peer indexes and is asked: the text with NFKC width folding, in its own script."""
    from core.boilerplate import strip_boilerplate  # the orchestrator only (the peers get finished strings)

    return strip_boilerplate(unicodedata.normalize("NFKC", text.strip()))


def peak_rss_mb() -> float:
    """This process's peak RSS (VmHWM: ru_maxrss would start from the forking orchestrator's RSS)."""
    for line in open("/proc/self/status", encoding="ascii"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- the peers (run in the worker subprocess) ----------------------------------------------------------------------
def jieba_tokens(text: str) -> list[str]:
    """jieba's default (accurate-mode) words, lower-cased, without whitespace and punctuation-only tokens."""
    import jieba

    return [t for t in jieba.lcut(text.lower()) if t.strip() and any(ch.isalnum() for ch in t)]


class Peer:
    """A system over `units` (passage texts) and their vectors: build once, then ranked unit indices."""

    def __init__(self, texts: list[str], vectors: np.ndarray) -> None:
        self.texts, self.vectors = texts, vectors

    def search(self, text: str, vector: np.ndarray, n: int) -> list[int]:
        raise NotImplementedError


class Bm25sPeer(Peer):
    def build(self) -> None:
        import bm25s

        self.bm25 = bm25s.BM25()  # its defaults: Lucene's BM25 variant, k1 1.5, b 0.75
        self.bm25.index([jieba_tokens(t) for t in self.texts], show_progress=False)

    def search(self, text, vector, n):
        ids = self.bm25.get_tokens_ids(jieba_tokens(text))
        if not ids:
            return []
        scores = np.asarray(self.bm25.get_scores(ids))
        top = np.argsort(-scores, kind="stable")[:n]
        return [int(i) for i in top if scores[i] > 0]


class FaissPeer(Peer):
    def build(self) -> None:
        import faiss

        self.index = faiss.IndexFlatIP(self.vectors.shape[1])
        self.index.add(np.ascontiguousarray(self.vectors, dtype=np.float32))

    def search(self, text, vector, n):
        _, ids = self.index.search(np.asarray(vector, np.float32).reshape(1, -1), n)
        return [int(i) for i in ids[0] if i >= 0]


class TantivyPeer(Peer):
    def build(self) -> None:
        import tantivy

        builder = tantivy.SchemaBuilder()
        builder.add_integer_field("unit", stored=True, indexed=False, fast=True)
        # jieba has split the text; Tantivy splits on the spaces between the words and lower-cases them
        builder.add_text_field("body", stored=False, tokenizer_name="jieba_ws")
        self.schema = builder.build()
        self.folder = tempfile.mkdtemp(prefix="tantivy-")
        self.index = tantivy.Index(self.schema, path=self.folder)
        analyzer = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.whitespace()).filter(tantivy.Filter.lowercase()).build()
        self.index.register_tokenizer("jieba_ws", analyzer)
        writer = self.index.writer(heap_size=200_000_000, num_threads=1)
        for i, text in enumerate(self.texts):
            writer.add_document(tantivy.Document(unit=i, body=" ".join(jieba_tokens(text))))
        writer.commit()
        writer.wait_merging_threads()
        self.index.reload()
        self.searcher = self.index.searcher()

    def search(self, text, vector, n):
        import tantivy

        terms = list(dict.fromkeys(jieba_tokens(text)))
        if not terms:
            return []
        query = tantivy.Query.boolean_query(
            [(tantivy.Occur.Should, tantivy.Query.term_query(self.schema, "body", t)) for t in terms])
        found = self.searcher.search(query, n).hits
        return [int(self.searcher.doc(addr)["unit"][0]) for _, addr in found]


class TxtaiPeer(Peer):
    """txtai hybrid: its BM25 scoring with a terms index, plus dense vectors, fused by txtai's hybrid search.

    txtai's BM25 tokenizer segments by Unicode word rules (a run of Han characters is one token), so for
    Chinese the text is segmented by jieba first and the scoring tokenizer splits on whitespace
    (`scoring.tokenizer = {"whitespace": True}`). Vectors: `method="external"` with a `transform` that returns
    the cached e5 vectors (the same ones every system uses; txtai loads no model). FAISS exact (IDMap,Flat),
    as the other dense systems; txtai would pick IVF from 5,000 vectors on.
    """

    def build(self) -> None:
        from txtai import Embeddings

        self._current: np.ndarray | None = None
        self._by_text: dict[str, np.ndarray] | None = {}

        def transform(inputs):  # indexing: the token strings; a search: the query (its vector set beforehand)
            if self._by_text is None:
                return np.stack([self._current] * len(inputs))
            return np.stack([self._by_text[x] for x in inputs])

        self.embeddings = Embeddings(
            method="external", transform=transform, content=False, hybrid=True,
            scoring={"method": "bm25", "terms": True, "normalize": True, "tokenizer": {"whitespace": True}},
            backend="faiss", faiss={"components": "IDMap,Flat"},
        )
        docs = []
        for i, (text, vec) in enumerate(zip(self.texts, self.vectors)):
            tokenized = " ".join(jieba_tokens(text))
            self._by_text[tokenized] = vec
            docs.append((i, tokenized, None))
        self.embeddings.index(docs)
        self._by_text = None

    def search(self, text, vector, n):
        self._current = np.asarray(vector, np.float32)
        return [int(i) for i, _ in self.embeddings.search(" ".join(jieba_tokens(text)) or text, limit=n)]


class PyseriniPeer(Peer):
    """Lucene BM25 through pyserini with its Chinese analyzer (language "zh"). Needs Java 21; not run where
    that runtime is missing (then Tantivy over jieba tokens is the Lucene-family BM25)."""

    def build(self) -> None:
        from pyserini.index.lucene import LuceneIndexer
        from pyserini.search.lucene import LuceneSearcher

        self.folder = tempfile.mkdtemp(prefix="pyserini-")
        indexer = LuceneIndexer(self.folder, language="zh", threads=1)
        for i, text in enumerate(self.texts):
            indexer.add_doc_dict({"id": str(i), "contents": text})
        indexer.close()
        self.searcher = LuceneSearcher(self.folder)
        self.searcher.set_language("zh")

    def search(self, text, vector, n):
        return [int(h.docid) for h in self.searcher.search(text, k=n)]


PEERS = {"txtai": TxtaiPeer, "pyserini": PyseriniPeer, "tantivy": TantivyPeer, "bm25s": Bm25sPeer, "faiss-flat": FaissPeer}


def per_document(ranked: list[int], doc_of: list[str], n: int, skip_title: str | None = None,
                 titles: list[str] | None = None) -> list[int]:
    """The first passage of each document, n documents, skipping one document title when asked."""
    seen, out = set(), []
    for i in ranked:
        if skip_title is not None and titles[i] == skip_title:
            continue
        if doc_of[i] in seen:
            continue
        seen.add(doc_of[i])
        out.append(i)
        if len(out) == n:
            break
    return out


def run_peer(system: str, data: dict, cache: VectorCache) -> dict:
    units = data["units"]
    texts = [u["peer_text"] for u in units]
    vectors = cache.stack("p", texts)
    peer = PEERS[system](texts, vectors)
    started = time.perf_counter()
    peer.build()
    build = time.perf_counter() - started
    doc_of = [u["doc"] for u in units]
    titles = [u["title"] for u in units]

    def hit(i):
        u = units[i]
        return {"title": u["title"], "heading_path": u["heading_path"], "text": u["text"], "doc": u["doc"]}

    out, latencies = {"build_s": build}, []
    qvecs = cache.stack("q", [q["peer"] for q in data["queries"]]) if data["queries"] else []
    out["queries"] = []
    for q, v in zip(data["queries"], qvecs):
        started = time.perf_counter()
        ranked = peer.search(q["peer"], v, FETCH)
        chosen = per_document(ranked, doc_of, K) if q["per_doc"] else ranked[:K]
        latencies.append(time.perf_counter() - started)
        out["queries"].append([hit(i) for i in chosen])
    svecs = cache.stack("p", [s["peer"] for s in data["similar"]]) if data["similar"] else []
    out["similar"] = []
    for s, v in zip(data["similar"], svecs):
        ranked = peer.search(s["peer"], v, FETCH)
        out["similar"].append([hit(i) for i in per_document(ranked, doc_of, 100, s["source_title"], titles)])
    out["latencies"] = latencies
    return out


# -- fazhi (run in the worker subprocess, the project's venv) ------------------------------------------------
class CachedEncoder:
    """The product's Encoder interface over the vector cache: nothing is embedded in the measured process."""

    def __init__(self, cache: VectorCache, info: dict) -> None:
        from core.model import ModelInfo

        self.cache = cache
        self.info = ModelInfo(**info)
        self.name, self.dim, self.runtime = self.info.name, self.info.dim, "cached"

    def encode_queries(self, texts):
        return self.cache.stack("q", list(texts))

    def encode_passages(self, texts, show_progress=False):
        return self.cache.stack("p", list(texts))


def run_fazhi(data: dict, cache: VectorCache) -> dict:
    from core.settings import Settings
    from core.storage import open_storage
    from indexer.pipeline import index_paths
    from search.engine import SearchEngine

    encoder = CachedEncoder(cache, data["model"])
    with tempfile.TemporaryDirectory() as tmp:
        storage = open_storage(Settings(index=str(Path(tmp) / "index")))
        started = time.perf_counter()
        index_paths([Path(data["jsonl"])], storage, encoder=encoder)
        build = time.perf_counter() - started
        engine = SearchEngine(storage, encoder=encoder)
        engine.search(data["queries"][0]["text"], k=1)  # warm-up (a cached query vector)

        def hit(h):
            return {"title": h.title, "heading_path": h.heading_path, "text": h.text, "doc": h.source.rsplit("#", 1)[1]}

        out, latencies = {"build_s": build, "queries": [], "similar": []}, []
        for q in data["queries"]:
            started = time.perf_counter()
            hits = engine.search(q["text"], k=K, per_doc=1 if q["per_doc"] else None).hits
            latencies.append(time.perf_counter() - started)
            out["queries"].append([hit(h) for h in hits])
        for s in data["similar"]:
            hits = engine.similar(text=s["text"], k=100, per_doc=1).hits
            out["similar"].append([hit(h) for h in hits])
        out["latencies"] = latencies
    return out


def worker(system: str, data_path: Path, cache_path: Path, out_path: Path) -> None:
    with open(data_path, "rb") as handle:
        data = pickle.load(handle)
    cache = VectorCache(cache_path)
    out = run_fazhi(data, cache) if system == "fazhi" else run_peer(system, data, cache)
    out["rss_mb"] = peak_rss_mb()
    with open(out_path, "w", encoding="utf-8") as handle:
        json.dump(out, handle, ensure_ascii=False)


# -- the orchestrator ----------------------------------------------------------------------------------------
def judge_functions(shared: Path) -> dict:
    """norm, judged and matches from crossscript_eval.py (the script runs on import, so only they are taken)."""
    source = (shared / "eval" / "crossscript_eval.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    keep = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))
            or (isinstance(n, ast.FunctionDef) and n.name in ("norm", "judged", "matches"))
            or (isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "_t2s" for t in n.targets))]
    namespace: dict = {}
    exec(compile(ast.Module(body=keep, type_ignores=[]), str(shared / "eval" / "crossscript_eval.py"), "exec"), namespace)
    return namespace


def stard_corpora(shared: Path, queries_limit: int) -> tuple[dict, list[dict]]:
    """The corpus quality.py builds (judged articles + 4,000 cn-laws distractors), Simplified and Traditional."""
    import opencc

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from quality import stard_corpus

    corpus, queries = stard_corpus(shared, 4000, queries_limit)
    s2t = opencc.OpenCC("s2t")
    traditional = [{**d, "title": s2t.convert(d["title"]), "text": s2t.convert(d["text"])} for d in corpus]
    return {"stard": corpus, "stard-trad": traditional}, queries


def crossscript_corpus(shared: Path, distractor_laws: int, full: bool, max_passages: int = 0
                       ) -> tuple[list[dict], list[dict], list[dict]]:
    """The cross-script dev corpus, or a documented subset of it: the pairs whose laws fit in `max_passages`
    passages in all, taken shortest laws first (0: every pair), the questions judged only by those pairs' laws, and a
    fixed-seed sample of distractor laws per script."""
    from indexer.structure import parse_passages

    pairs = [json.loads(l) for l in open(shared / "eval" / "crossscript-dev-pairs.jsonl", encoding="utf-8") if l.strip()]
    queries = [json.loads(l) for l in open(shared / "eval" / "crossscript-dev-queries.jsonl", encoding="utf-8") if l.strip()]
    with gzip.open(shared / "eval" / "crossscript-dev-corpus.jsonl.gz", "rt", encoding="utf-8") as handle:
        docs = [json.loads(l) for l in handle if l.strip()]
    if full:
        return docs, pairs, queries
    size = {d["title"]: len(parse_passages(d["text"])) for d in docs}
    laws: set[str] = set()
    kept = []
    for p in sorted(pairs, key=lambda p: size[p["tw"]["law"]] + size[p["cn"]["law"]]):  # the shortest laws first
        new = {p["tw"]["law"], p["cn"]["law"]} - laws
        if max_passages and sum(size[l] for l in laws | new) > max_passages:
            continue
        laws |= new
        kept.append(p)
    pairs = [p for p in pairs if p in kept]  # file order
    queries = [q for q in queries if all(r["law"] in laws for r in q["relevant"])]
    rng = random.Random(XS_SEED)
    sample = []
    for side in ("tw-", "cn-"):
        pool = [d for d in docs if d["title"] not in laws and d["id"].startswith(side)]
        sample += rng.sample(pool, min(distractor_laws, len(pool)))
    chosen = {d["id"] for d in docs if d["title"] in laws} | {d["id"] for d in sample}
    return [d for d in docs if d["id"] in chosen], pairs, queries  # corpus order kept


def prepare(args, cache: VectorCache):
    """Corpora, the product's passages of each, tasks, and every vector any system will ask for, cached;
    yields (corpus name, data file) as each is ready."""
    from core.model import Encoder
    from core.settings import Settings
    from core.storage import open_storage
    from core.storage.embedded.store import current_version_dir, load_documents, load_passages
    from core.textform import matching_form
    from indexer.pipeline import index_paths, passage_context
    from core.boilerplate import strip_boilerplate

    stard, stard_queries = stard_corpora(args.shared, args.queries)
    # the order the figures matter in: STARD both scripts first, then the cross-script set
    xs_docs, pairs, xs_queries = crossscript_corpus(args.shared, args.distractor_laws, args.full_crossscript,
                                                 args.xs_max_passages)
    encoder = Encoder()

    class Caching:
        """Embeds what the cache lacks while the product indexes (so fazhi's texts are exactly its own)."""

        name, dim, runtime, info = encoder.name, encoder.dim, encoder.runtime, encoder.info

        def encode_queries(self, texts):
            return embedded("q", list(texts))

        def encode_passages(self, texts, show_progress=False):
            return embedded("p", list(texts))

    def embedded(kind: str, texts: list[str]) -> np.ndarray:
        got = cache.get_many(kind, texts)
        missing = list(dict.fromkeys(t for t, v in zip(texts, got) if v is None))
        if missing:
            t0 = time.perf_counter()
            if kind == "q":  # one at a time, as a server encodes them (int8 activations are scaled per batch)
                cache.put_many(kind, missing, np.stack([encoder.encode_queries([t])[0] for t in missing]))
            order = sorted(missing, key=len) if kind == "p" else []
            for start in range(0, len(order), 256):
                chunk = order[start : start + 256]
                cache.put_many(kind, chunk, encoder.encode_passages(chunk))
            print(f"  embedded {len(missing)} {kind} texts in {time.perf_counter() - t0:.0f}s", flush=True)
        return cache.stack(kind, texts)

    out = {}
    data_dir = args.cache / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    model = {"name": encoder.info.name, "dim": encoder.info.dim, "fingerprint": encoder.info.fingerprint,
             "probe": encoder.info.probe}
    for name, docs in (("stard", stard["stard"]), ("stard-trad", stard["stard-trad"]), ("xs", xs_docs)):
        if name not in args.corpora:
            continue
        print(f"preparing {name}: {len(docs)} documents", flush=True)
        jsonl = data_dir / f"{name}.jsonl"
        with open(jsonl, "w", encoding="utf-8") as handle:
            for d in docs:
                handle.write(json.dumps({"id": d["id"], "title": d["title"], "text": d["text"],
                                         **({"meta": d["meta"]} if d.get("meta") else {})}, ensure_ascii=False) + "\n")
        with tempfile.TemporaryDirectory() as tmp:
            storage = open_storage(Settings(index=str(Path(tmp) / "index")))
            index_paths([jsonl], storage, encoder=Caching())
            version = current_version_dir(Path(tmp) / "index")
            documents = {d.doc_id: d for d in load_documents(version)}
            passages = load_passages(version)
        units = []
        for p in passages:
            doc = documents[p.doc_id]
            indexed = "\n".join(passage_context(p.heading_path, p.kind, doc.title, p.text) + [p.text])
            units.append({"doc": doc.source.rsplit("#", 1)[1], "title": doc.display_title, "heading_path": p.heading_path,
                          "text": p.text, "peer_text": peer_form(indexed)})
        embedded("p", [u["peer_text"] for u in units])
        if name.startswith("stard"):
            queries = [{"text": q["query"], "peer": peer_form(q["query"]), "per_doc": True} for q in stard_queries]
            similar = []
        else:
            queries = [{"text": q["query"], "peer": peer_form(q["query"]), "per_doc": False} for q in xs_queries]
            similar = []
            for p in pairs:
                for src, dst in (("tw", "cn"), ("cn", "tw")):
                    similar.append({"text": p[src]["text"], "peer": peer_form(p[src]["text"]),
                                    "source_law": p[src]["law"], "target": p[dst], "direction": f"{src}2{dst}",
                                    "source_title": None})
            # the peers skip hits whose document title is the source law's (units carry display titles)
            title_of_law = {}
            for u in units:
                title_of_law.setdefault(u["title"], u["title"])
            for s in similar:
                s["source_title"] = next((t for t in title_of_law if _same_title(t, s["source_law"])), s["source_law"])
            embedded("p", [strip_boilerplate(matching_form(s["text"].strip())) for s in similar])
        embedded("q", [matching_form(q["text"].strip()) for q in queries])
        embedded("q", [q["peer"] for q in queries])
        embedded("p", [s["peer"] for s in similar])
        data = {"jsonl": str(jsonl), "units": units, "queries": queries, "similar": similar, "model": model,
                "stard_relevant": [[str(r) for r in q["relevant"]] for q in stard_queries] if name.startswith("stard") else None,
                "xs_queries": xs_queries if name == "xs" else None, "documents": len(docs)}
        path = data_dir / f"{name}.pkl"
        with open(path, "wb") as handle:
            pickle.dump(data, handle)
        print(f"  {name}: {len(units)} passages", flush=True)
        yield name, path


def _same_title(a: str, b: str) -> bool:
    import re

    import opencc

    t2s = opencc.OpenCC("t2s")
    return "".join(re.findall(r"\w", t2s.convert(a))) == "".join(re.findall(r"\w", t2s.convert(b)))


OWN_VENV = ("fazhi", "bm25s", "faiss-flat")  # run by the project's Python (its own dependencies)


def python_for(system: str, peers_python: str) -> str:
    return sys.executable if system in OWN_VENV else peers_python


def available(system: str, python: str) -> str | None:
    """None when the system can run, else why not."""
    if system == "fazhi":
        return None
    if system == "pyserini":
        import shutil

        java = shutil.which("java")
        version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr if java else ""
        if not java or '"21' not in version and " 21" not in version:
            return ("pyserini needs a Java 21 runtime: " + (f"found {version.splitlines()[0]}" if version else "no java")
                    + "; Debian here offers openjdk-17 only (openjdk-21-jre-headless has no candidate), "
                    "so Tantivy over jieba tokens is the Lucene-family BM25")
    if not Path(python).exists():
        return f"no Python at {python} (make the peers' venv: pip install -e '.[peers]')"
    probe = subprocess.run([python, "-c", f"import {PEER_PACKAGES[system]}"], capture_output=True, text=True)
    if probe.returncode:
        return f"import {PEER_PACKAGES[system]} failed: {probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else probe.returncode}"
    return None


def score(system_out: dict, data: dict[str, dict], judge: dict) -> dict:
    import math

    figures = {}
    for name in ("stard", "stard-trad"):
        if name not in system_out:
            continue
        ndcg = []
        for hits, relevant in zip(system_out[name]["queries"], data[name]["stard_relevant"]):
            ranked = [h["doc"] for h in hits][:K]
            gains = [1.0 if d in set(relevant) else 0.0 for d in ranked]
            dcg = sum(g / math.log2(i + 2) for i, g in enumerate(gains))
            ideal = sum(1.0 / math.log2(i + 2) for i in range(min(len(set(relevant)), K)))
            ndcg.append(dcg / ideal)
        figures[name] = float(np.mean(ndcg))
    if "xs" in system_out:
        norm, judged, matches = judge["norm"], judge["judged"], judge["matches"]
        ranks = []
        for s, hits in zip(data["xs"]["similar"], system_out["xs"]["similar"]):
            target, source = judged(s["target"]), norm(s["source_law"])
            hits = [h for h in hits if norm(h.get("title", "")) != source]
            rank = next((i for i, h in enumerate(hits[:10], 1) if matches(h, target)), 0)
            ranks.append(1 / rank if rank else 0.0)
        figures["pairs_hit10"] = sum(1 for r in ranks if r > 0) / len(ranks)
        figures["pairs_mrr"] = float(np.mean(ranks))
        rr = []
        for q, hits in zip(data["xs"]["xs_queries"], system_out["xs"]["queries"]):
            rel = [judged(r) for r in q["relevant"]]
            first = next((i for i, h in enumerate(hits[:10], 1) if any(matches(h, j) for j in rel)), 0)
            rr.append(1 / first if first else 0.0)
        figures["query_mrr"] = float(np.mean(rr))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--cache", type=Path, default=Path("/work/cache/peers"))
    parser.add_argument("--peers-python", default=os.environ.get("PEERS_PYTHON", "/work/peers-venv/bin/python"),
                        help="a Python with the peers installed (pip install -e '.[peers]')")
    parser.add_argument("--distractor-laws", type=int, default=5, help="distractor laws per script in the cross-script subset")
    parser.add_argument("--crossscript-subset", dest="full_crossscript", action="store_false",
                        help="a quick subset of the cross-script dev set instead of all of it (345 laws, ~18,500 "
                             "passages, 40 pairs, 30 questions: the issue's figure, and the default)")
    parser.add_argument("--xs-max-passages", type=int, default=2000,
                        help="cross-script subset: the pairs whose laws fit in this many passages (0: all 40 pairs)")
    parser.add_argument("--queries", type=int, default=0, help="only the first N STARD questions (0: all)")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--corpora", default=",".join(CORPORA), help="of stard, stard-trad, xs (the rest print missing)")
    parser.add_argument("--worker", nargs=4, metavar=("SYSTEM", "DATA", "CACHE", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        system, data_path, cache_path, out_path = args.worker
        sys.path.insert(0, str(ROOT))
        worker(system, Path(data_path), Path(cache_path), Path(out_path))
        return

    sys.path.insert(0, str(ROOT))
    args.corpora = args.corpora.split(",")
    cache_path = args.cache / "vectors.sqlite"
    cache = VectorCache(cache_path)
    judge = judge_functions(args.shared)
    systems = args.systems.split(",")
    results: dict[str, dict] = {}
    for system in systems:
        reason = available(system, python_for(system, args.peers_python))
        results[system] = {"missing": reason} if reason else {"outs": {}, "problem": None}
        if reason:
            print(f"{system}: missing ({reason})", flush=True)
    data = {}
    for name, path in prepare(args, cache):  # each corpus is run by every system as soon as it is ready
        with open(path, "rb") as handle:
            data[name] = pickle.load(handle)
        d = data[name]
        if name == "stard":
            print(f"STARD: {d['documents']} articles = {len(d['units'])} passages, {len(d['queries'])} questions", flush=True)
        elif name == "xs":
            print(f"cross-script: {d['documents']} laws = {len(d['units'])} passages"
                  f"{'' if args.full_crossscript else f' (subset: the laws of the pairs that fit in {args.xs_max_passages} passages, shortest first, + {args.distractor_laws} TW + {args.distractor_laws} CN distractor laws, seed {XS_SEED})'}, "
                  f"{len(d['similar']) // 2} pairs ({len(d['similar'])} similar tasks), {len(d['queries'])} questions", flush=True)
        for system in systems:
            result = results[system]
            if "outs" not in result or result["problem"]:
                continue
            python = python_for(system, args.peers_python)
            with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
                out_path = handle.name
            started = time.perf_counter()
            run = subprocess.run([python, str(Path(__file__).resolve()), "--worker", system, str(path), str(cache_path),
                                  out_path], capture_output=True, text=True, cwd=str(ROOT),
                                 env={**os.environ, "PYTHONPATH": str(ROOT)})
            if run.returncode:
                result["problem"] = (run.stderr.strip().splitlines() or ["exit %d" % run.returncode])[-1]
                print(f"{system} {name}: failed: {run.stderr[-2000:]}", flush=True)
                continue
            with open(out_path, encoding="utf-8") as handle:
                result["outs"][name] = json.load(handle)
            os.unlink(out_path)
            o = result["outs"][name]
            f = score({name: o}, data, judge)
            lat = o["latencies"]
            print(f"  {system} {name}: {json.dumps({k: round(v, 3) for k, v in f.items()})} build {o['build_s']:.1f}s "
                  f"p50 {1000 * statistics.median(lat) if lat else 0:.1f} ms, peak RSS {o['rss_mb']:.0f} MB "
                  f"({time.perf_counter() - started:.0f}s in all)", flush=True)

    print()
    print("| system | STARD nDCG@10 | STARD Traditional nDCG@10 | pairs_hit@10 | query_MRR | build s | p50 ms | p95 ms | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|---|")
    lines, notes = [], []
    for system, result in results.items():
        fig = {}
        if result.get("outs"):
            outs = result["outs"]
            f = score(outs, data, judge)
            lat = outs.get("stard", {}).get("latencies") or []
            fig = {
                "stard_ndcg10": f.get("stard"), "stard_trad_ndcg10": f.get("stard-trad"),
                "pairs_hit10": f.get("pairs_hit10"), "query_mrr": f.get("query_mrr"),
                "build_s": outs["stard"]["build_s"] if "stard" in outs else None,
                "p50_ms": 1000 * statistics.median(lat) if lat else None,
                "p95_ms": 1000 * float(np.percentile(lat, 95)) if lat else None,
                "rss_mb": max(o["rss_mb"] for o in outs.values()),
            }
        fmt = {k: ("missing" if v is None else (f"{v:.3f}" if k not in ("build_s", "p50_ms", "p95_ms", "rss_mb") else f"{v:.1f}"))
               for k, v in fig.items()} if fig else {}
        keys = ("stard_ndcg10", "stard_trad_ndcg10", "pairs_hit10", "query_mrr", "build_s", "p50_ms", "p95_ms", "rss_mb")
        row = [fmt.get(k, "missing") for k in keys]
        print(f"| {system} | " + " | ".join(row) + " |")
        lines.append(f"system={system} " + " ".join(f"{k}={v}" for k, v in zip(keys, row)))
        if result.get("missing") or result.get("problem"):
            notes.append(f"{system}: missing: {result.get('missing') or result.get('problem')}")
    for note in notes:
        print(note)
    print("\nbuild s: the STARD Simplified index (5,445 articles), vectors precomputed; p50/p95: the 1,215 STARD "
          "questions on it, query encoding excluded for every system; peak RSS: the largest of the system's three "
          "processes (one per corpus; no model loaded)\n")
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
