"""Dense pseudo-relevance feedback (Rocchio) for search, tried on three dev sets side by side in one run.

After the first fused ranking, the query vector becomes normalize(q + beta * mean of the m best fused
passages' vectors), the dense retrieval runs again with it and is fused with the same BM25 list; the match
levels keep the query's own cosines. Each (m, beta) is scored on:
- the cross-script dev questions (../shared/eval/crossscript_eval.py in-process): query_MRR, R@10, xs_MRR;
- the work-report queries (benchmarks/data/wr-queries.jsonl): document cover@10, paraphrase MRR;
- STARD-train (1,215 questions; judged articles + 4,000 cn-laws distractors as quality.py builds them): nDCG@10.

    python benchmarks/feedback.py --xs XS_INDEX --wr WR_INDEX [--stard STARD_FOLDER] [--shared ../shared]

--stard is a folder: its index is built there once (quality.py's corpus) and reused.
Last line: feedback m<m>_b<beta>:query_mrr=…,wr_para=…,stard=… for each configuration, then the baseline's
(base_query_mrr=… base_wr_para=… base_stard=…).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from core.model import Encoder  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.storage import open_storage  # noqa: E402
from search.engine import SearchEngine  # noqa: E402

GRID = [(0, 0.0)] + [(m, b) for m in (3, 5, 10) for b in (0.5, 1.0)]  # (0, 0): today's search
_plain_fused = SearchEngine._fused
FEEDBACK = {"m": 0, "beta": 0.0}


def fused_with_feedback(self, state, tokens, vector, mode, filters, exclude_doc, per_doc=None):
    """SearchEngine._fused, then once more with the query vector moved towards its m best passages."""
    first = _plain_fused(self, state, tokens, vector, mode, filters, exclude_doc, per_doc)
    m, beta = FEEDBACK["m"], FEEDBACK["beta"]
    if not m or mode != "hybrid" or vector is None or not first[0]:
        return first
    top = np.asarray(state.vectors_at([p for p, _ in first[0][:m]]), dtype=np.float32)
    moved = vector + beta * top.mean(axis=0)
    moved = (moved / np.linalg.norm(moved)).astype(np.float32)
    again = _plain_fused(self, state, tokens, moved, mode, filters, exclude_doc, per_doc)
    return (*again[:4], first[4])  # the match levels read the query's own cosines


def stard_engine(folder: Path, shared: Path):
    import quality

    corpus, queries = quality.stard_corpus(shared)
    folder.mkdir(parents=True, exist_ok=True)
    if (folder / "index" / "CURRENT").exists():
        engine = SearchEngine(open_storage(Settings(index=str(folder / "index"))))
    else:
        engine = quality.build(corpus, folder, Encoder())[0]
    id_of = {d["doc_id"]: d["source"].rsplit("#", 1)[1] for d in engine.documents()}

    def ndcg() -> float:
        return float(np.mean([quality.metrics([id_of[h.doc_id] for h in engine.search(q["query"], k=10, per_doc=1).hits],
                                              {str(r) for r in q["relevant"]})[2] for q in queries]))
    return ndcg


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--xs", required=True, help="index of crossscript-dev-corpus.jsonl")
    ap.add_argument("--wr", required=True, help="index of the 88 work reports")
    ap.add_argument("--stard", type=Path, default=None, help="folder for the STARD index (built once)")
    args = ap.parse_args()
    from atlas import run_queries
    from similar import run_crossscript
    from web.app import create_app

    SearchEngine._fused = fused_with_feedback
    xs_app = create_app(engine=SearchEngine(open_storage(Settings(index=args.xs))), testing=True)
    wr = SearchEngine(open_storage(Settings(index=args.wr)))
    ndcg = stard_engine(args.stard, args.shared) if args.stard else None
    print("| m | beta | query_MRR | query_R@10 | query_xs_MRR | wr cover@10 | wr paraphrase_MRR | STARD nDCG@10 |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for m, beta in GRID:
        FEEDBACK.update(m=m, beta=beta)
        xs, _ = run_crossscript(xs_app, args.shared)
        with contextlib.redirect_stdout(io.StringIO()):
            line = run_queries(wr, ROOT / "benchmarks" / "data" / "wr-queries.jsonl")
        figures = dict(part.split("=") for part in line.split()[1:])
        row = (m, beta, xs["query_MRR"], xs["query_R@10"], xs["query_xs_MRR"], float(figures["cover@10"]),
               float(figures["paraphrase_MRR"]), ndcg() if ndcg else float("nan"))
        rows.append(row)
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |", flush=True)
    base = rows[0]
    print("feedback " + " ".join(f"m{r[0]}_b{r[1]}:query_mrr={r[2]:.3f},wr_para={r[6]:.3f},stard={r[7]:.4f}" for r in rows)
          + f" base_query_mrr={base[2]:.3f} base_wr_para={base[6]:.3f} base_stard={base[7]:.4f}")


if __name__ == "__main__":
    main()
