"""Encoder throughput, side by side in one run: the fp32 torch path and the int8 ONNX path of the same model.

Embeds the same real passages (the seed reports' passages, plus cn-laws articles when ../shared is there)
with each runtime, after a warm-up, and prints passages/s, tokens/s, the speed ratio and the cosine
between the two runtimes' vectors. Retrieval quality per runtime: `benchmarks/quality.py --runtime …`.
Never asserts.

    python benchmarks/encode.py [--shared ../shared] [--passages 1000] [--model NAME]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.model import Encoder
from core.settings import RUNTIMES  # noqa: E402
from indexer.pipeline import build_document  # noqa: E402
from indexer.sources import RawDocument, discover, read_file  # noqa: E402


def real_passages(shared: Path, count: int) -> list[str]:
    """What the index embeds (the matching form of each passage): seeds first, then cn-laws documents."""
    files, _ = discover([ROOT / "data"])
    raws = [item for path in files for item in read_file(path) if isinstance(item, RawDocument)]
    corpus = shared / "corpora" / "cn-laws.jsonl.gz"
    if corpus.exists():
        with gzip.open(corpus, "rt", encoding="utf-8") as handle:
            for n, line in enumerate(handle):
                record = json.loads(line)
                raws.append(RawDocument(doc_id=f"law{n}", source=f"cn-laws#{n}", name=record.get("title", ""),
                                        title=record.get("title", ""), text=record.get("text", ""), meta={}))
                if n >= 200:
                    break
    texts = [p.match_text for raw in raws for p in build_document(raw)[1]]
    return texts[:count]


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--model", default=None)
    args = parser.parse_args()

    texts = real_passages(args.shared, args.passages)
    print(f"{len(texts)} real passages, mean {np.mean([len(t) for t in texts]):.0f} characters; "
          f"{os.cpu_count()} cores, {cpu_name()}\n")
    results = {}
    for runtime in reversed(RUNTIMES):  # torch first: the baseline
        encoder = Encoder(args.model, runtime=runtime)
        encoder.encode_passages(texts[:16])  # warm-up
        started = time.perf_counter()
        vectors = encoder.encode_passages(texts)
        seconds = time.perf_counter() - started
        results[runtime] = (seconds, vectors)
        del encoder
    base_seconds, base = results["torch"]
    print("| runtime | passages/s | × torch fp32 | cosine to fp32 (min / mean) |")
    print("|---|---|---|---|")
    for runtime in reversed(RUNTIMES):
        seconds, vectors = results[runtime]
        cosine = np.sum(vectors * base, axis=1)
        print(f"| {runtime} | {len(texts) / seconds:.1f} | {base_seconds / seconds:.2f} | "
              f"{cosine.min():.4f} / {cosine.mean():.4f} |")


if __name__ == "__main__":
    main()
