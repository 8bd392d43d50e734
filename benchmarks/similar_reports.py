"""find-similar over the work reports, with tasks taken from the atlas dev grid: today's product beside the legacy one.

    python benchmarks/similar_reports.py --index INDEX_OF_THE_88_REPORTS [--shared ../shared] [--tasks 200]

Each task starts from the passage of a report that holds one of the grid's evidence strings for a measure
(a report the grid grades 2, "addresses it"), and asks `SearchEngine.similar(passage_id=…, k=10, per_doc=1)`
for the other reports, as the JSON API's /api/similar does. Nothing here is labelled by us: the grid's
grades and evidence strings judge every answer.
- relevant@10: the share of the answer's reports that the grid grades 1 or 2 for the measure;
- evidence: of the answer's grade-2 reports, the share whose shown passage shares 12 consecutive characters
  with one of that report's evidence strings (the atlas scorer's test): is the passage shown the one on the
  measure;
- p50 ms of the call (the model excluded: a passage id needs no encoding).
Configurations (same tasks, one process): `legacy` (the product before issue 12) and `shipped`.
Tasks are a seeded sample of all the grid's work-report tasks. Never asserts. Last line:
`similar_reports tasks=… relevant10=… evidence=… p50_ms=… legacy_relevant10=… legacy_evidence=…`
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from atlas import norm, quick_shares  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.rerank import LEGACY, SimilarConfig  # noqa: E402


def shares(text: str, evidence: list[str]) -> bool:
    """The atlas scorer's evidence test (benchmarks/atlas.py's fast form of it)."""
    return quick_shares(norm(text), [norm(e) for e in evidence])


def tasks_of(engine: SearchEngine, shared: Path) -> list[tuple[str, str, dict]]:
    """(measure id, source passage id, {doc_id: (grade, evidence)}) for every grade-2 report of every row."""
    state = engine._state
    titles = {}
    with gzip.open(shared / "corpora" / "cn-work-reports.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            titles[d["id"]] = d["title"]
    doc_of_title = {d.title: k for k, d in state.documents.items()}
    out = []
    for line in open(shared / "eval" / "atlas-dev-grid.jsonl", encoding="utf-8"):
        row = json.loads(line)
        if row["corpus"] != "cn-work-reports":
            continue
        grades = {doc_of_title.get(titles.get(j["doc"], "")): (j["grade"], j["evidence"]) for j in row["judgments"]}
        grades.pop(None, None)
        for doc, (grade, evidence) in grades.items():
            if grade != 2:
                continue
            source = next((r for r in state.document_passages(doc) if shares(r.text, evidence[:1])), None)
            if source is not None:
                out.append((row["id"], source.passage_id, grades))
    return out


def measured(engine: SearchEngine, tasks: list, config: SimilarConfig) -> dict:
    engine.similar_config = config
    relevant = shown = evidence_ok = graded = 0
    times = []
    for _, passage_id, grades in tasks:
        started = time.perf_counter()
        result = engine.similar(passage_id=passage_id, k=10, per_doc=1)
        times.append(time.perf_counter() - started)
        for hit in result.hits:
            grade, evidence = grades.get(hit.doc_id, (0, []))
            shown += 1
            relevant += grade >= 1
            if grade == 2:
                graded += 1
                evidence_ok += shares(hit.text, evidence)
    return {"relevant10": relevant / max(shown, 1), "evidence": evidence_ok / max(graded, 1), "graded": graded,
            "p50_ms": 1000 * statistics.median(times) if times else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="an index of ../shared/corpora/cn-work-reports")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    engine = SearchEngine(args.index)
    tasks = tasks_of(engine, args.shared)
    random.Random(args.seed).shuffle(tasks)
    tasks = tasks[: args.tasks]
    print(f"{len(tasks)} tasks from {len({t[0] for t in tasks})} measures of the atlas dev grid\n")
    print("| configuration | relevant@10 | evidence (grade-2 answers) | p50 ms |")
    print("|---|---|---|---|")
    got = {}
    for name, config in (("legacy", LEGACY), ("shipped", SimilarConfig())):
        got[name] = m = measured(engine, tasks, config)
        print(f"| {name} | {m['relevant10']:.3f} | {m['evidence']:.3f} (of {m['graded']}) | {m['p50_ms']:.0f} |")
    s, legacy = got["shipped"], got["legacy"]
    print(f"\nsimilar_reports tasks={len(tasks)} relevant10={s['relevant10']:.3f} evidence={s['evidence']:.3f} "
          f"p50_ms={s['p50_ms']:.0f} legacy_relevant10={legacy['relevant10']:.3f} legacy_evidence={legacy['evidence']:.3f}")


if __name__ == "__main__":
    main()
