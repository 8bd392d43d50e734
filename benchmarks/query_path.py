"""Where a search's time goes, without query encoding: this checkout and (optionally) another side by side.

    python benchmarks/query_path.py --index INDEX_DIR [--other OTHER_CHECKOUT] [--queries 100] [--rounds 3]
        [--profile 25]

Every query is a STARD train question, embedded once here (one at a time, as a server embeds them) and
handed to both checkouts, so both search with the same vectors. Each checkout runs in a process of its own
over the same index: it answers every query once untimed (as a serving process has after its first
requests: the match levels' occurrence caches and the page cache are warm), then times each stage for every
query: `SearchEngine.search` with the defaults (fused, min_match weak), with min_match any, BM25's top 200
alone, and dense's top 200 alone. Rounds alternate between the checkouts, so load on a shared machine falls
on both alike. `--profile N` prints the N functions with the most own time (cProfile) over one more pass.

OTHER_CHECKOUT is another working tree of this repository (e.g. `git worktree add /tmp/base <commit>`).
Never asserts. Last line:
`query_path passages=… queries=… fused_p50_ms=… any_p50_ms=… filtered_p50_ms=… bm25_p50_ms=… dense_p50_ms=…
[fused_p50_ms_other=… ratio=…]`
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("fused", "any", "filtered", "bm25", "dense")

CHILD = textwrap.dedent("""
    import cProfile, io, json, pstats, sys, time
    sys.path.insert(0, {root!r})
    import numpy as np
    from core.filters import Filters
    from core.storage.embedded.store import current_version_dir, read_manifest
    from core.textform import matching_form, tokenize_query
    from search.engine import SearchEngine

    queries = json.loads({queries!r})
    vectors = np.load({vectors!r})
    by_text = {{matching_form(q.strip()): v for q, v in zip(queries, vectors)}}

    class Given:  # the query vectors computed by the parent: no encoding is timed
        def __init__(self, info):
            self.info, self.name, self.dim = info, info.name, info.dim
        def encode_queries(self, texts):
            return np.stack([by_text[t] for t in texts])
        encode_passages = encode_queries

    engine = SearchEngine({index!r}, encoder=Given(read_manifest(current_version_dir({index!r})).model))
    state, none, traditional = engine._state, Filters(), Filters(script=("traditional",))
    stages = {{
        "fused": lambda q: engine.search(q),
        "any": lambda q: engine.search(q, min_match="any"),
        "filtered": lambda q: engine.search(q, filters=traditional),
        "bm25": lambda q: state.lexical_ranked(tokenize_query(q), 200, none, None),
        "dense": lambda q: state.dense_ranked(by_text[matching_form(q.strip())], 200, none, None),
    }}
    for q in queries:
        engine.search(q)
    times = {{name: [] for name in stages}}
    lexical = getattr(state, "lexical", None)
    for q in queries:
        for name, fn in stages.items():
            if hasattr(lexical, "_last"):  # BM25 keeps the last query's scores: each stage pays for its own
                lexical._last = None
            t = time.perf_counter()
            fn(q)
            times[name].append(time.perf_counter() - t)
    profile = ""
    if {profile}:
        pr = cProfile.Profile()
        pr.enable()
        for q in queries:
            engine.search(q)
        pr.disable()
        out = io.StringIO()
        pstats.Stats(pr, stream=out).sort_stats("tottime").print_stats({profile})
        profile = out.getvalue()
    print(json.dumps({{"times": times, "passages": len(state.doc_of_pos), "profile": profile}}))
""")


def run_child(root: Path, index: Path, queries: list[str], vectors: Path, profile: int) -> dict:
    code = CHILD.format(root=str(root), index=str(index), queries=json.dumps(queries, ensure_ascii=False),
                        vectors=str(vectors), profile=profile)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{root}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def p50(values: list[float]) -> float:
    return 1000 * statistics.median(values)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--other", type=Path, default=None, help="another checkout to time beside this one")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, help="print this many functions by own time")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from core.model import Encoder
    from core.textform import matching_form

    lines = (args.shared / "eval" / "stard-train.jsonl").read_text(encoding="utf-8").splitlines()
    queries = [json.loads(line)["query"] for line in lines if line.strip()][: args.queries]
    encoder = Encoder()
    vectors = np.stack([encoder.encode_queries([matching_form(q.strip())])[0] for q in queries])
    roots = {"this": ROOT} | ({"other": args.other.resolve()} if args.other else {})
    times: dict[str, dict[str, list[float]]] = {name: {s: [] for s in STAGES} for name in roots}
    passages = 0
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "q.npy", vectors)
        for r in range(args.rounds):
            for name, root in (roots.items() if r % 2 == 0 else reversed(roots.items())):
                got = run_child(root, args.index, queries, Path(tmp) / "q.npy", args.profile if r == 0 else 0)
                passages = got["passages"]
                for stage in STAGES:
                    times[name][stage] += got["times"][stage]
                if got["profile"]:
                    print(f"## {name} ({root}): own time, one pass over the queries\n{got['profile']}")

    print(f"{passages:,} passages, {len(queries)} STARD questions × {args.rounds} rounds (alternating), "
          f"query vectors given (no encoding)\n")
    print("| stage, p50 / p95 ms | " + " | ".join(roots) + " |")
    print("|---|" + "---|" * len(roots))
    labels = {"fused": "search, defaults (fused, min_match weak)", "any": "search, min_match any",
              "filtered": "search, filtered to Traditional-script documents (facets count the unfiltered hits)",
              "bm25": "BM25 top 200 alone", "dense": "dense top 200 alone"}
    for stage in STAGES:
        print(f"| {labels[stage]} | " + " | ".join(
            f"{p50(times[n][stage]):.1f} / {p95(times[n][stage]):.1f}" for n in roots) + " |")
    last = (f"query_path passages={passages} queries={len(queries)} "
            + " ".join(f"{s}_p50_ms={p50(times['this'][s]):.1f}" for s in STAGES))
    if args.other:
        ratio = p50(times["other"]["fused"]) / max(p50(times["this"]["fused"]), 1e-9)
        last += f" fused_p50_ms_other={p50(times['other']['fused']):.1f} ratio={ratio:.2f}"
    print("\n" + last)


if __name__ == "__main__":
    main()
