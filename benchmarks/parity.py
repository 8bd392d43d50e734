"""Backend parity: the same documents in the embedded backend and in Milvus, the same queries, top-10 compared.

Indexes the seed reports (data/) and the STARD corpus (judged articles + cn-laws distractors, as in
quality.py) into both backends with one encoder (each passage embedded once), then prints, per retrieval
mode, the share of top-10 positions holding the same passage in both and the share of shared passages
regardless of position. Milvus is Milvus Lite in a temporary folder unless --milvus-uri is given.
Never asserts.

    python benchmarks/parity.py [--shared ../shared] [--queries 300] [--milvus-uri URI]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from load import QUERIES  # noqa: E402
from quality import CachingEncoder, distractor_articles, load_jsonl  # noqa: E402

from core.settings import Settings
from core.storage import open_storage  # noqa: E402
from core.model import Encoder  # noqa: E402
from indexer.pipeline import index_paths  # noqa: E402
from search.engine import SearchEngine  # noqa: E402

SEED_QUERIES = QUERIES + ["聘請律師事務所擔任法律顧問", "投诉举报热线", "行政执法三项制度", "领导干部学法"]
MODES = ("hybrid", "bm25", "dense")


def overlap(a: SearchEngine, b: SearchEngine, queries: list[str], mode: str) -> tuple[float, float]:
    """(same passage at the same position, same passages in any order) over all top-10 positions."""
    same_position = same_set = total = 0
    for q in queries:
        x = [h.passage_id for h in a.search(q, k=10, mode=mode).hits]
        y = [h.passage_id for h in b.search(q, k=10, mode=mode).hits]
        total += max(len(x), len(y)) or 1
        same_position += sum(i == j for i, j in zip(x, y)) + (0 if x or y else 1)
        same_set += len(set(x) & set(y)) + (0 if x or y else 1)
    return same_position / total, same_set / total


def pair(paths: list[Path], folder: Path, encoder, milvus_uri: str, name: str) -> tuple[SearchEngine, SearchEngine]:
    embedded = open_storage(folder / f"{name}-embedded")
    milvus = open_storage(Settings(backend="milvus", milvus_uri=milvus_uri or str(folder / "parity.db"),
                                   milvus_collection=name))
    for storage in (embedded, milvus):
        index_paths(paths, storage, encoder=encoder)
    return SearchEngine(embedded, encoder=encoder), SearchEngine(milvus, encoder=encoder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--queries", type=int, default=300, help="STARD train queries used")
    parser.add_argument("--milvus-uri", default="")
    args = parser.parse_args()

    import json

    encoder = CachingEncoder(Encoder())
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        sets = [("seeds", [ROOT / "data"], SEED_QUERIES)]
        if (args.shared / "eval").is_dir():
            articles = load_jsonl(args.shared / "eval" / "stard-articles.jsonl")
            queries = [q["query"] for q in load_jsonl(args.shared / "eval" / "stard-train.jsonl")][: args.queries]
            corpus = [{"id": str(a["id"]), "title": a["title"], "text": a["text"]} for a in articles]
            corpus += [{"id": f"d{i}", **d} for i, d in enumerate(distractor_articles(
                args.shared, 4000, {a["text"].strip() for a in articles}, {a["title"] for a in articles}))]
            source = folder / "stard.jsonl"
            source.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in corpus), encoding="utf-8")
            sets.append(("stard", [source], queries))
        print(f"embedded vs Milvus ({args.milvus_uri or 'Milvus Lite, temporary file'}), model {encoder.name}\n")
        print("| corpus | queries | mode | same passage at same position | same passages in top-10 |")
        print("|---|---|---|---|---|")
        for name, paths, queries in sets:
            embedded, milvus = pair(paths, folder, encoder, args.milvus_uri, name)
            for mode in MODES:
                position, shared = overlap(embedded, milvus, queries, mode)
                print(f"| {name} | {len(queries)} | {mode} | {position:.1%} | {shared:.1%} |")


if __name__ == "__main__":
    main()
