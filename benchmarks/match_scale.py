"""The match levels' tables at scale (issue 17): texts held in memory (before) against the segments' memory-mapped
character index (after), side by side on one index.

What it does, so the figures can be read right:
- Text: the first --documents documents of each corpus in ../shared/corpora through the product's pipeline,
  repeated under new ids up to --passages (scale.py's read_corpora and repeated). Vectors are random (16-d):
  only the match levels are measured here, not search.
- Build: `store.publish` writes the index (one segment) as `fazhi index` does; the character index's part of
  it (write_chars) is timed on its own, and so is the publish of one more report (scale.py's added_report),
  the add-one path of issue 17. Its disk: the segment's chars/ folder.
- Tables, each in a fresh process on the same index: `old` is PassageTable(in_memory=True), the code as it was
  (every segment's texts, headings and a character → passage index in memory below CHAR_INDEX_MAX characters);
  `old-scan` the same with CHAR_INDEX_MAX = 0 (what the old code does above 40M characters, about 250,000
  passages of these corpora: a scan of all text per new term; not run above it, where old is that already);
  `new` is PassageTable as shipped. For each: the RSS the table adds (bytes/passage, in all and anonymous:
  when built, after the STARD terms, after the n-grams; memory-mapped pages a term reads stay in RSS as
  page cache, which the kernel may drop), the time to build or open it,
  and the latency of sparse_occurrences for a term the process has not seen, over the first --terms distinct
  words and phrases of STARD questions, then over --ngrams substrings of 2-6 characters of random passages (not
  for old-scan: a scan each). Parity: every term's (positions, counts) must be the same in every variant.
- `write`: building the character index of the whole segment (what a merge or full publish pays), its time
  and the peak RSS it adds.

The last line reads `match_scale passages=… old_bytes_per_passage=… new_bytes_per_passage=… old_new_term_p50_ms=…
new_new_term_p50_ms=… parity=ok|FAIL`: bytes after the STARD terms; old is the in-memory code at this size.

    python benchmarks/match_scale.py [--passages 200000] [--documents 200] [--terms 200] [--ngrams 2000]
        [--index DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from core.model import ModelInfo  # noqa: E402
from core.storage.embedded import store  # noqa: E402

DIM = 16  # random vectors: the match tables never read them beyond a 1,024-passage sample
MODEL = ModelInfo(name="random", dim=DIM, fingerprint="match-scale", probe=[])
VARIANTS = ("old", "old-scan", "new")


def rss() -> dict[str, int]:
    """This process's VmRSS, RssAnon and RssFile in bytes."""
    with open("/proc/self/status") as handle:
        return {line.split(":")[0]: int(line.split()[1]) * 1024 for line in handle
                if line.startswith(("VmRSS", "RssAnon", "RssFile", "VmHWM"))}


def measure(index_dir: Path, variant: str, terms_file: Path) -> dict:
    """In this (fresh) process: the table of one variant, its memory, build time, term latencies, digests."""
    import gc

    import search.match as match
    from core.storage.embedded.reader import EmbeddedReader

    terms = json.loads(terms_file.read_text(encoding="utf-8"))
    reader = EmbeddedReader(store.current_version_dir(index_dir))
    if variant == "old-scan":
        match.CHAR_INDEX_MAX = 0
    gc.collect()
    before = rss()
    started = time.perf_counter()
    table = match.PassageTable(reader, in_memory=variant != "new")
    build = time.perf_counter() - started
    gc.collect()
    built = rss()
    out = {"build_s": build, "n": table.size}
    for name in ("stard", "ngrams"):
        if name == "ngrams" and variant == "old-scan":
            continue
        latencies, digest = [], hashlib.sha1()
        for term in terms[name]:
            t = time.perf_counter()
            pos, counts = table.sparse_occurrences(term)
            latencies.append(time.perf_counter() - t)
            digest.update(term.encode() + b"\x01" + pos.tobytes() + b"\x02" + counts.tobytes())
        gc.collect()
        after = rss()
        out[name] = {"latencies": latencies, "digest": digest.hexdigest(),
                     "rss": {k: after[k] - before[k] for k in ("VmRSS", "RssAnon", "RssFile")}}
    out["rss_built"] = {k: built[k] - before[k] for k in ("VmRSS", "RssAnon", "RssFile")}
    return out


def measure_write(index_dir: Path) -> dict:
    """Build the character index of every passage of the index's segment here: seconds, peak RSS added."""
    from core.storage.embedded.chars import build_chars
    from core.storage.embedded.reader import EmbeddedReader

    import tracemalloc

    reader = EmbeddedReader(store.current_version_dir(index_dir))
    texts = [r[0].lower() for r in reader.passage_rows(["match_text"])]
    tracemalloc.start()  # numpy reports its buffers to tracemalloc: the peak of what build_chars allocates
    t = time.perf_counter()
    build_chars(texts)
    seconds = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"build_s": seconds, "peak_added": peak, "chars": sum(len(x) for x in texts)}


def fresh(args: list[str]) -> dict:
    """Run this file with `args` in a fresh process; its JSON answer."""
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def query_terms(shared: Path, n: int) -> list[str]:
    """The first n distinct words, phrases and quoted phrases the match levels look up for STARD questions."""
    from quality import load_jsonl

    from search.match import analyze

    terms: dict[str, None] = {}
    for q in [q["query"] for q in load_jsonl(shared / "eval" / "stard-train.jsonl")]:
        mq = analyze(q, use_alias_file=False)
        terms.update(dict.fromkeys(mq.terms + mq.segments + mq.quoted))
        if len(terms) >= n:
            break
    return list(terms)[:n]


def ngrams(passages: list, n: int, seed: int = 0) -> list[str]:
    """Substrings of 2-6 characters of random passages' matching forms, and some that repeat themselves."""
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < n:
        text = passages[int(rng.integers(len(passages)))].match_text.lower()
        width = int(rng.integers(2, 7))
        if len(text) >= width:
            start = int(rng.integers(len(text) - width + 1))
            out.append(text[start:start + width])
    return list(dict.fromkeys(out + ["啊啊", "啊啊啊", "——", "———", "……", "00", "000", "不存在的词语"]))


def pcts(values: list[float]) -> tuple[float, float]:
    """(p50, p95) in ms."""
    ordered = sorted(values)
    return 1000 * statistics.median(ordered), 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--documents", type=int, default=200, help="documents read per corpus (then repeated)")
    parser.add_argument("--terms", type=int, default=200, help="distinct terms of STARD questions looked up")
    parser.add_argument("--ngrams", type=int, default=2000)
    parser.add_argument("--index", type=Path, default=None, help="where to build (default: a temporary folder)")
    parser.add_argument("--measure", choices=VARIANTS + ("write",), help=argparse.SUPPRESS)
    parser.add_argument("--terms-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure == "write":
        print(json.dumps(measure_write(args.index)))
        return
    if args.measure:
        print(json.dumps(measure(args.index, args.measure, args.terms_file)))
        return

    from scale import added_report, read_corpora, repeated

    from core.storage.base import IndexChanges

    started = time.perf_counter()
    docs, passages = read_corpora(args.shared, args.documents)
    unique = len(passages)
    docs, passages = repeated(docs, passages, args.passages)
    docs, passages, _ = store.ordered(docs, passages, np.zeros((len(passages), 0), np.float32))
    n = len(passages)
    total = sum(len(p.match_text) for p in passages)
    print(f"{unique:,} distinct passages ({args.documents} documents per corpus, {time.perf_counter() - started:.0f}s)"
          f" repeated to {n:,} passages in {len(docs):,} documents; {total:,} characters")
    vectors = np.random.default_rng(0).normal(size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)

    spent: dict[str, float] = {}
    write_chars = store.write_chars

    def timed_chars(*a, **kw):
        t0 = time.perf_counter()
        try:
            return write_chars(*a, **kw)
        finally:
            spent["chars"] = spent.get("chars", 0.0) + time.perf_counter() - t0

    store.write_chars = timed_chars
    with tempfile.TemporaryDirectory(dir=args.index.parent if args.index else None) as tmp:
        index_dir = args.index or Path(tmp) / "index"
        t = time.perf_counter()
        version = store.publish(index_dir, docs, passages, vectors, MODEL)
        publish_s, chars_s = time.perf_counter() - t, spent.pop("chars")
        (segment,) = store.segment_refs(store.read_manifest(version))
        folder = index_dir / "segments" / segment.name
        chars_disk = sum(f.stat().st_size for f in (folder / "chars").rglob("*") if f.is_file())
        disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        print(f"publish of {n:,} passages: {publish_s:.1f}s, of which the character index {chars_s:.1f}s; "
              f"segment {disk / n:,.0f} bytes/passage on disk, of which chars/ {chars_disk / n:,.0f}")

        terms = {"stard": query_terms(args.shared, args.terms), "ngrams": ngrams(passages, args.ngrams)}
        terms_file = Path(tmp) / "terms.json"
        terms_file.write_text(json.dumps(terms, ensure_ascii=False), encoding="utf-8")
        from search.match import CHAR_INDEX_MAX

        variants = [v for v in VARIANTS if v != "old-scan" or total <= CHAR_INDEX_MAX]  # above it, old scans
        results = {v: fresh(["--measure", v, "--index", str(index_dir), "--terms-file", str(terms_file)])
                   for v in variants}
        written = fresh(["--measure", "write", "--index", str(index_dir)])

        doc, added = added_report(docs, passages)  # the add-one path: one more report as its own segment
        add_vectors = vectors[: len(added)]
        t = time.perf_counter()
        store.publish_changes(index_dir, IndexChanges([doc], added, add_vectors, []), MODEL)
        add_s, add_chars_s = time.perf_counter() - t, spent.pop("chars")

    parity = all(results[v]["stard"]["digest"] == results["new"]["stard"]["digest"] for v in variants) and \
        results["old"]["ngrams"]["digest"] == results["new"]["ngrams"]["digest"]
    print(f"\n{len(terms['stard'])} new terms of STARD questions, then {len(terms['ngrams'])} corpus n-grams\n")
    print(f"| at {n:,} passages | " + " | ".join(variants) + " |")
    print("|---|" + "---|" * len(variants))
    row = lambda label, f: print(f"| {label} | " + " | ".join(f(results[v]) for v in variants) + " |")  # noqa: E731
    mb = lambda r, when: f"{r[when]['VmRSS'] / n:,.0f} ({r[when]['RssAnon'] / n:,.0f})"  # noqa: E731
    row("RSS added by the match tables when built: bytes/passage (anonymous)", lambda r: mb(r, "rss_built"))
    row("... after the STARD terms ran", lambda r: mb(r["stard"], "rss"))
    row("... after the n-grams ran too", lambda r: mb(r["ngrams"], "rss") if "ngrams" in r else "not run")
    row("build / open s", lambda r: f"{r['build_s']:.2f}")
    row("new STARD term: sparse_occurrences p50 / p95 ms",
        lambda r: "%.2f / %.2f" % pcts(r["stard"]["latencies"]))
    row("new corpus n-gram: p50 / p95 ms",
        lambda r: "%.2f / %.2f" % pcts(r["ngrams"]["latencies"]) if "ngrams" in r else "not run")
    print(f"\nparity of (positions, counts) for every term across the variants: {'ok' if parity else 'FAIL'}")
    print(f"character index of the whole segment ({written['chars']:,} characters): {written['build_s']:.1f}s, "
          f"peak RSS added {written['peak_added'] / 2**20:,.0f} MB")
    print(f"add one report ({len(added)} passages) as a segment: publish {add_s:.2f}s, of which the character index "
          f"{1000 * add_chars_s:.1f} ms")
    old, new = results["old"], results["new"]
    print(f"match_scale passages={n} old_bytes_per_passage={old['stard']['rss']['VmRSS'] / n:.0f} "
          f"new_bytes_per_passage={new['stard']['rss']['VmRSS'] / n:.0f} "
          f"old_new_term_p50_ms={pcts(old['stard']['latencies'])[0]:.2f} "
          f"new_new_term_p50_ms={pcts(new['stard']['latencies'])[0]:.2f} parity={'ok' if parity else 'FAIL'}")


if __name__ == "__main__":
    main()
