"""Domain adaptation of the embedding model without labels: does it find the counterpart article?

    python benchmarks/adapt.py [--shared ../shared] [--pairs 500] [--out /work/cache/adapt] [--random-batches]
        [--api]

Issue 12 allows adapting the model if it trains on the corpora's own structure, without labels. Here:

1. **Laws on the same matter, by title.** A Taiwan law and a PRC law whose titles are the same once
   converted to Simplified and stripped of 中华人民共和国 (专利法 / 中华人民共和国专利法). Every law of the
   cross-script dev corpus is left out, so nothing is learnt from the dev pairs' laws or their distractors.
2. **Article pairs mined, not labelled.** Each law's articles (第 X 條 / 第X条) are embedded with the
   product's encoder; within each pair of laws, an article pair is kept when each is the other's nearest
   neighbour by ratio margin (cosine over the mean of both sides' 4 nearest, Artetxe & Schwenk 2019), and
   the `--pairs` pairs of highest margin are used.
3. **Fine-tuning** the fp32 model (sentence-transformers) with in-batch negatives (InfoNCE both ways, scale
   50), one epoch, AdamW lr 2e-5, batches drawn from one law pair at a time (the negatives are the other
   articles of the same two laws: the choice find-similar's second stage has to make), seed 0.
4. **Measured on what it never saw:** for each of the 40 dev pairs and both directions, the partner law's
   articles ranked by cosine to the source article (top-1 and MRR, base and adapted, both fp32); and
   dense-only STARD-train nDCG@10 over the 1,445 judged articles, to see what it costs general retrieval.
5. `--api`: the product end to end: the dev corpus indexed with each model (int8, as served) and
   `crossscript_eval.py` run in-process through the JSON API (find-similar pairs and the 30 questions).

Never asserts. Last line:
`adapt laws=… pairs=… base_top1=… adapted_top1=… base_mrr=… adapted_mrr=… base_stard=… adapted_stard=… train_s=…`
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import os
import random
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from core.model import Encoder, resolve_model_path  # noqa: E402
from core.settings import DEFAULT_MODEL, default_cache_dir  # noqa: E402
from core.textform import matching_form, to_simplified  # noqa: E402

ARTICLE_TW = re.compile(r"^第\s*([0-9]+(?:-[0-9]+)?)\s*條\s*$", re.M)
ARTICLE_CN = re.compile(r"^(第[一二三四五六七八九十百千零〇]+条(?:之[一二三四五六七八九十]+)?)[\s　]", re.M)
MAX_CHARS = 500  # of an article's matching form, embedded (e5's 512 tokens; most articles are shorter)
MARGIN_K = 4
BATCH = 32
SCALE = 50.0  # InfoNCE's inverse temperature (e5 was trained at 100; softer keeps the base space)
LR = 2e-5
SEED = 0


def title_key(title: str) -> str:
    """A law's title as both systems would share it: Simplified, without 中华人民共和国, spaces or brackets."""
    return re.sub(r"[\s（）()《》]", "", re.sub(r"^中华人民共和国", "", matching_form(title)))


def articles(text: str, taiwan: bool) -> list[str]:
    """A law's articles in matching form: Taiwan's text after its 第 X 條 line, the PRC's with its 第X条."""
    found = list((ARTICLE_TW if taiwan else ARTICLE_CN).finditer(text))
    out = []
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        body = text[m.end():end] if taiwan else text[m.start():end]
        body = re.sub(r"\n#+ .*", "", body).strip()
        if 15 <= len(body) <= 1500:
            out.append(matching_form(body)[:MAX_CHARS])
    return out


def jsonl(path: Path):
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def law_pairs(shared: Path) -> list[tuple[str, list[str], list[str]]]:
    """(title, Taiwan articles, PRC articles) of the title-matched laws outside the dev corpus."""
    dev = {title_key(d["title"]) for d in jsonl(shared / "eval" / "crossscript-dev-corpus.jsonl.gz")}
    tw, cn = {}, {}
    for d in jsonl(shared / "corpora" / "tw-laws.jsonl.gz"):
        tw.setdefault(title_key(d["title"]), d["text"])
    for d in jsonl(shared / "corpora" / "cn-laws.jsonl.gz"):
        cn.setdefault(title_key(d["title"]), d["text"])
    out = []
    for key in sorted(set(tw) & set(cn) - dev):
        a, b = articles(tw[key], True), articles(cn[key], False)
        if len(a) >= 5 and len(b) >= 5:
            out.append((key, a, b))
    return out


def mine(laws: list, vectors: np.ndarray) -> list[tuple[float, str, str, str]]:
    """(margin, title, Taiwan article, PRC article) of mutual nearest neighbours by ratio margin, best first."""
    out, at = [], 0
    for title, a, b in laws:
        A, B = vectors[at:at + len(a)], vectors[at + len(a):at + len(a) + len(b)]
        at += len(a) + len(b)
        S = A @ B.T
        k = min(MARGIN_K, *S.shape)
        ra, rb = np.sort(S, 1)[:, -k:].mean(1), np.sort(S, 0)[-k:, :].mean(0)
        M = S / ((ra[:, None] + rb[None, :]) / 2)
        best_b, best_a = M.argmax(1), M.argmax(0)
        out += [(float(M[i, j]), title, a[i], b[j]) for i, j in enumerate(best_b) if best_a[j] == i]
    return sorted(out, key=lambda x: -x[0])


def fine_tune(base: str, mined: list, out: Path, same_law: bool = True) -> float:
    """Train a copy of the base model on the mined pairs; seconds taken."""
    import torch
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(SEED)
    rng = random.Random(SEED)
    model = SentenceTransformer(base, device="cpu")
    model.max_seq_length = 160
    pairs = [("passage: " + a, "passage: " + b, title) for _, title, a, b in mined]
    rng.shuffle(pairs)
    if same_law:
        by_law: dict[str, list] = {}
        for p in pairs:
            by_law.setdefault(p[2], []).append(p)
        batches = [v[i:i + BATCH] for v in by_law.values() for i in range(0, len(v), BATCH)]
        batches = [b for b in batches if len(b) >= 4]
    else:
        batches = [pairs[i:i + BATCH] for i in range(0, len(pairs) - 7, BATCH)]
    rng.shuffle(batches)
    optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
    model.train()
    started = time.perf_counter()
    for batch in batches:
        ea = model(model.tokenize([p[0] for p in batch]))["sentence_embedding"]
        eb = model(model.tokenize([p[1] for p in batch]))["sentence_embedding"]
        scores = ea @ eb.T * SCALE
        target = torch.arange(len(batch))
        loss = (torch.nn.functional.cross_entropy(scores, target) + torch.nn.functional.cross_entropy(scores.T, target)) / 2
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    model.save(str(out))
    return time.perf_counter() - started


def fp32(path: str):
    """An encode function of the fp32 model: texts → normalized vectors, with e5's passage/query prefixes."""
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(path, device="cpu")
    model.max_seq_length = 256
    return lambda texts, prefix="passage: ": model.encode([prefix + t for t in texts], batch_size=32,
                                                          normalize_embeddings=True, show_progress_bar=False)


def word_chars(s: str) -> str:
    return "".join(re.findall(r"\w", to_simplified(s or "")))


def partner_ranks(encode, shared: Path) -> tuple[float, float, int]:
    """Top-1 and MRR of the partner article within the partner law, over the dev pairs' both directions."""
    laws = {word_chars(d["title"]): d["text"] for d in jsonl(shared / "eval" / "crossscript-dev-corpus.jsonl.gz")}
    pairs = [json.loads(l) for l in open(shared / "eval" / "crossscript-dev-pairs.jsonl", encoding="utf-8") if l.strip()]
    embedded: dict[str, tuple[list[str], np.ndarray]] = {}
    top1, rr, n = 0, 0.0, 0
    for p in pairs:
        for src, dst in (("tw", "cn"), ("cn", "tw")):
            key = word_chars(p[dst]["law"])
            if key not in embedded:
                arts = articles(laws[key], dst == "tw")
                embedded[key] = (arts, encode(arts))
            arts, V = embedded[key]
            target = [i for i, a in enumerate(arts) if p[dst]["key"] in word_chars(a)]
            if not target:
                continue
            q = encode([matching_form(p[src]["text"])[:MAX_CHARS]])[0]
            order = np.argsort(-(V @ q))
            rank = min(int(np.flatnonzero(order == t)[0]) for t in target) + 1
            top1, rr, n = top1 + (rank == 1), rr + 1 / rank, n + 1
    return top1 / n, rr / n, n


def stard_dense(encode, shared: Path) -> float:
    """Dense-only STARD-train nDCG@10 over the judged articles."""
    arts = [json.loads(l) for l in open(shared / "eval" / "stard-articles.jsonl", encoding="utf-8") if l.strip()]
    qs = [json.loads(l) for l in open(shared / "eval" / "stard-train.jsonl", encoding="utf-8") if l.strip()]
    A = encode([matching_form(a["title"] + " " + a["text"]) for a in arts])
    Q = encode([matching_form(q["query"]) for q in qs], "query: ")
    ids = [str(a["id"]) for a in arts]
    total = 0.0
    for q, v in zip(qs, Q):
        relevant = {str(r) for r in q["relevant"]}
        top = np.argsort(-(A @ v))[:10]
        dcg = sum(1 / math.log2(i + 2) for i, j in enumerate(top) if ids[j] in relevant)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
        total += dcg / ideal if ideal else 0.0
    return total / len(qs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--pairs", type=int, default=500, help="mined pairs trained on (highest margin first)")
    parser.add_argument("--out", type=Path, default=Path("/work/cache/adapt"))
    parser.add_argument("--random-batches", action="store_true", help="batches across laws (easy negatives)")
    parser.add_argument("--api", action="store_true", help="also index the dev corpus with each model and score it "
                        "through the JSON API (~4 minutes of embedding a model)")
    args = parser.parse_args()
    if not (args.shared / "corpora").is_dir():
        raise SystemExit(f"needs the corpora in {args.shared / 'corpora'}")
    base = resolve_model_path(DEFAULT_MODEL, Path(default_cache_dir(os.environ)), True)

    t = time.perf_counter()
    laws = law_pairs(args.shared)
    encoder = Encoder()
    vectors = encoder.encode_passages([x for _, a, b in laws for x in a + b])
    mined = mine(laws, vectors)
    print(f"{len(laws)} title-matched Taiwan/PRC law pairs outside the dev corpus, "
          f"{sum(len(a) + len(b) for _, a, b in laws):,} articles; {len(mined):,} mutual nearest pairs, "
          f"the {min(args.pairs, len(mined))} of highest margin used ({time.perf_counter() - t:.0f}s)")
    for m, title, a, b in mined[:: max(1, min(args.pairs, len(mined)) // 4)][:4]:
        print(f"  margin {m:.3f} {title}: {' '.join(a[:36].split())} | {' '.join(b[:36].split())}")
    args.out.mkdir(parents=True, exist_ok=True)
    adapted = args.out / ("model-random" if args.random_batches else "model")
    seconds = fine_tune(base, mined[: args.pairs], adapted, same_law=not args.random_batches)
    print(f"fine-tuned in {seconds:.0f}s into {adapted}\n")

    rows = {}
    for label, path in (("base", base), ("adapted", str(adapted))):
        encode = fp32(path)
        top1, mrr, n = partner_ranks(encode, args.shared)
        rows[label] = (top1, mrr, stard_dense(encode, args.shared))
    print(f"| model (fp32) | partner top-1 within its law ({n} directions) | MRR | STARD dense nDCG@10 (judged articles) |")
    print("|---|---|---|---|")
    for label, (top1, mrr, stard) in rows.items():
        print(f"| {label} | {top1:.3f} | {mrr:.3f} | {stard:.4f} |")
    api = {}
    if args.api:
        from similar import ensure_index, run_crossscript  # noqa: E402  (benchmarks/ is on the path)
        from search.engine import SearchEngine
        from web.app import create_app

        dev_jsonl = args.out / "crossscript-dev.jsonl"
        if not dev_jsonl.exists():
            with gzip.open(args.shared / "eval" / "crossscript-dev-corpus.jsonl.gz", "rb") as src:
                dev_jsonl.write_bytes(src.read())
        for label, name in (("base", None), ("adapted", str(adapted))):
            enc = Encoder(name)
            engine = SearchEngine(ensure_index(dev_jsonl, args.out / f"index-{label}", enc), encoder=enc)
            api[label], _ = run_crossscript(create_app(engine=engine, testing=True), args.shared)
        print("\n| model (int8, as served), crossscript_eval.py | hit@10 tw→cn | cn→tw | pairs_MRR | law_hit@10 | query_MRR | query_xs_MRR |")
        print("|---|---|---|---|---|---|---|")
        for label, r in api.items():
            print(f"| {label} | {r['t2s_hit@10']:.3f} | {r['s2t_hit@10']:.3f} | {r['pairs_MRR']:.3f} | "
                  f"{r['pairs_law_hit@10']:.3f} | {r['query_MRR']:.3f} | {r['query_xs_MRR']:.3f} |")
    tail = "".join(f" {label}_pairs_mrr={r['pairs_MRR']:.3f} {label}_query_mrr={r['query_MRR']:.3f}" for label, r in api.items())
    print(f"adapt laws={len(laws)} pairs={min(args.pairs, len(mined))} base_top1={rows['base'][0]:.3f} "
          f"adapted_top1={rows['adapted'][0]:.3f} base_mrr={rows['base'][1]:.3f} adapted_mrr={rows['adapted'][1]:.3f} "
          f"base_stard={rows['base'][2]:.4f} adapted_stard={rows['adapted'][2]:.4f} train_s={seconds:.0f}" + tail)


if __name__ == "__main__":
    main()
