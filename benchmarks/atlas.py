"""Measure atlas on a judged grid, with the measures held out of the calibration in turn.

    PYTHONPATH=. python benchmarks/atlas.py \
        --corpus cn-work-reports=INDEX_DIR:../shared/corpora/cn-work-reports.jsonl.gz \
        --corpus seeds=SEEDS_INDEX_DIR:../shared/seeds [--grid ../shared/eval/atlas-dev-grid.jsonl]
        [--folds 0] [--calibrate] [--no-aliases] [--queries benchmarks/data/wr-queries.jsonl] [--latency]
        [--terms benchmarks/data/atlas-terms.jsonl] [--train-terms]

For every grid row (a measure over every document of a corpus) the features of every passage are computed
once (search/match.py). Then, for each row in turn, the passage model and its two thresholds are fitted on
the *other* rows only (leave-one-measure-out; --folds K: K folds of measures), and the held-out row is
judged with them exactly as GET /api/atlas would: a document's cell is its best passage's level. The rows
are scored by the logic of ../shared/eval/atlas_eval.py, and its summary line is printed last per corpus.

--calibrate fits on all rows and writes search/match_params.json with the cross-validated figures.
--terms: terms of art as users type them (公平竞争审查), judged by grep over every corpus and scored apart
("term rows"); they are not fitted on unless --train-terms.
--queries scores work-report queries through the engine's search (document cover@10, paraphrase MRR).
--latency times compute_atlas with 20 measures over the corpus.
--search-rows runs the grid's rows (query and name) through search (per_doc 1, the default cut) and counts the
rows by level and the judge's grade: how much of a result list is padding, and whether a document that
addresses the measure shows its strong passage (against the first passage of each document, as before).
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import statistics
import sys
import time
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.textform import matching_form, to_simplified  # noqa: E402
from search.atlas import EXCERPT_SEPARATOR, best_per_group, second_passages, sigmoid  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.match import CLIP, FEATURES, MatchModel, PARAMS_PATH, analyze, features, passage_table  # noqa: E402

ABSENT_PRECISION = 0.985  # the weak cut is the highest that keeps absent precision at least this on the training rows
norm = lambda s: re.sub(r"\s+", "", to_simplified(s or ""))  # noqa: E731


def shares(text: str, evidence: list[str]) -> bool:
    """The scorer's evidence test: >= min(12, len) consecutive characters in common with one evidence string."""
    a = norm(text)
    for e in evidence:
        b = norm(e)
        need = min(12, len(b))
        m = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
        if m.size >= need:
            return True
    return False


def quick_shares(a: str, evidence_norm: list[str]) -> bool:
    for b in evidence_norm:
        need = min(12, len(b))
        if any(b[i:i + need] in a for i in range(0, len(b) - need + 1)):
            return True
    return False


def doc_map(engine, corpus_source: str) -> dict[str, str]:
    """grid doc id → index doc_id (by title for JSONL corpora, by a seed's 3-digit prefix)."""
    docs = engine._state.documents.values()
    src = Path(corpus_source)
    if src.is_dir():
        return {d.name[:3]: d.doc_id for d in docs}
    by_title = {d.display_title: d.doc_id for d in docs} | {d.title: d.doc_id for d in docs if d.title}
    out = {}
    with (gzip.open if str(src).endswith(".gz") else open)(src, "rt", encoding="utf-8") as fh:
        for line in fh:
            d = json.loads(line)
            if d["title"] in by_title:
                out[d["id"]] = by_title[d["title"]]
    return out


def dump_rows(name: str, index: str, source: str, grid: list[dict], use_aliases: bool) -> dict:
    """Features of every passage for every row of this corpus, with passage and document labels."""
    engine = SearchEngine(index)
    state = engine._state
    table = passage_table(state)
    mapping = doc_map(engine, source)
    doc_ids = list(dict.fromkeys(state.doc_of_pos))
    doc_i = {d: i for i, d in enumerate(doc_ids)}
    pos_doc = np.array([doc_i[d] for d in state.doc_of_pos], dtype=np.int64)
    doc_text = {d: to_simplified(doc.text) for d, doc in state.documents.items()}
    records = state.passages_at(list(range(table.size)))
    texts = [r.text for r in records]
    texts_norm = [norm(t) for t in texts]
    rows = []
    for item in grid:
        if item["corpus"] != name:
            continue
        t0 = time.perf_counter()
        mq = analyze(item["query"], use_alias_file=use_aliases)
        mq.vector = engine._query_vector(matching_form(item["query"]))
        X, _ = features(table, mq)
        grade = np.zeros(len(doc_ids), dtype=np.int64)
        evidence: dict[int, list[str]] = {}
        for k, d in enumerate(doc_ids):  # added rows: a document naming one of the grep terms is not judged
            if item.get("grep") and any(t in doc_text[d] for t in item["grep"]):
                grade[k] = 1 if item.get("term_row") else -1  # a term of art named literally is at least mentioned
        for j in item["judgments"]:
            if j["doc"] in mapping:
                k = doc_i[mapping[j["doc"]]]
                grade[k] = j["grade"]
                evidence[k] = j["evidence"]
        y = np.full(table.size, -1, dtype=np.int64)
        y[grade[pos_doc] == 0] = 0
        for k, ev in evidence.items():
            ev_norm = [norm(e) for e in ev]
            for p in np.flatnonzero(pos_doc == k):
                if quick_shares(texts_norm[p], ev_norm):
                    y[p] = grade[k]
        rows.append({"id": item["id"], "measure": item["measure"], "X": X, "y": y, "grade": grade,
                     "evidence": evidence, "seconds": time.perf_counter() - t0, "added": bool(item.get("grep")),
                     "name_row": bool(item.get("name_row")), "term_row": bool(item.get("term_row")),
                     "train": bool(item.get("train", True))})
    missing = len({j["doc"] for it in grid if it["corpus"] == name for j in it["judgments"]} - set(mapping))
    return {"name": name, "rows": rows, "pos_doc": pos_doc, "n_docs": len(doc_ids), "texts": texts,
            "sections": table.sections, "unmapped": missing, "engine": engine}


def training_set(rows: list[tuple[dict, dict]], rng: np.random.Generator):
    """Passages with a label: evidence passages (grade 1 and 2) and negatives from grade-0 documents."""
    Xs, ys, ws = [], [], []
    for corpus, row in rows:
        X, y = row["X"], row["y"]
        ok = ~np.isnan(X).any(axis=1)
        pos = np.flatnonzero((y >= 1) & ok)
        neg = np.flatnonzero((y == 0) & ok)
        hard = neg[(X[neg, FEATURES.index("cov_eff")] > 0) | (X[neg, FEATURES.index("dense_z")] > 1.5)]
        easy = np.setdiff1d(neg, hard)
        easy = rng.choice(easy, size=min(len(easy), 300), replace=False) if len(easy) else easy
        neg = np.concatenate([hard, easy])
        if len(hard) > 3000:
            neg = np.concatenate([rng.choice(hard, 3000, replace=False), easy])
        Xs += [X[pos], X[neg]]
        ys += [np.ones(len(pos)), np.zeros(len(neg))]
        # every row weighs the same: its positives together as much as its negatives together
        wp = np.where(y[pos] == 2, 1.0, 0.6) / max(1, len(pos))
        ws += [wp * 100, np.full(len(neg), 100.0 / max(1, len(neg)))]
    return np.concatenate(Xs), np.concatenate(ys), np.concatenate(ws)


def fit_model(rows: list[tuple[dict, dict]], C: float = 1.0) -> MatchModel:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    X, y, w = training_set(rows, rng)
    mean, std = X.mean(axis=0), X.std(axis=0) + 1e-6
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit(np.clip((X - mean) / std, -CLIP, CLIP), y, sample_weight=w)
    model = MatchModel(list(clf.coef_[0]), float(clf.intercept_[0]), list(mean), list(std), 0.5, 0.2)
    model.t_strong, model.t_weak = fit_thresholds(rows, model)
    return model


def doc_scores(corpus: dict, row: dict, model: MatchModel) -> tuple[np.ndarray, np.ndarray]:
    best, z = best_per_group(model.logit(row["X"]), corpus["pos_doc"], corpus["n_docs"], empty=-50.0)
    return best, sigmoid(z)


def fit_thresholds(rows, model: MatchModel) -> tuple[float, float]:
    """t_strong: best present F1 (grade 2 vs 0); t_weak: the highest cut with absent precision >= target."""
    pd, gd = [], []
    judged = [(c, r) for c, r in rows if not r["added"]] or rows  # cut where the grid judged every cell
    for corpus, row in judged:
        _, p = doc_scores(corpus, row, model)
        pd.append(p)
        gd.append(row["grade"])
    p, g = np.concatenate(pd), np.concatenate(gd)
    p, g = p[g >= 0], g[g >= 0]
    grid = np.unique(np.round(np.concatenate([p, np.linspace(0.01, 0.99, 99)]), 4))
    best_f1, t_strong = -1.0, 0.5
    for t in grid:
        called = p >= t
        tp = int((called & (g == 2)).sum())
        fp = int((called & (g == 0)).sum())
        fn = int((~called & (g == 2)).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 > best_f1:
            best_f1, t_strong = f1, float(t)
    t_weak = min(0.05, t_strong)
    for t in sorted(grid[grid <= t_strong], reverse=True):
        absent = p < t
        if absent.sum() == 0:
            continue
        prec = (g[absent] == 0).mean()
        if prec >= ABSENT_PRECISION:
            t_weak = float(t)
            break
    return t_strong, t_weak


def score_rows(corpus: dict, judged: list[tuple]) -> tuple[list[str], str]:
    """Per-row lines and the scorer's summary line, from (row, best passage per doc, status per doc, second
    evidence passage per doc). The summary's `evidence` judges the cell text as /api/atlas gives it by default
    (the best passage alone); `evidence_2=` after it, the text of `evidence=2` (a second strong passage added),
    which passes the scorer's substring test more easily and so is reported apart, not as the figure."""
    tp = fp = fn = 0
    abs_right = abs_wrong = abs_truth = abs_found = 0
    ev_ok = ev_n = n_cells = ev2_ok = 0
    lines = []
    for row, best, status, second in judged:
        rtp = rfp = rfn = 0
        for d in range(corpus["n_docs"]):
            g, s = int(row["grade"][d]), status[d]
            if g < 0:
                continue
            n_cells += 1
            if g != 1:
                if s == "strong" and g == 2:
                    rtp += 1
                elif s == "strong":
                    rfp += 1
                elif g == 2:
                    rfn += 1
            if s == "absent":
                abs_right += g == 0
                abs_wrong += g != 0
            if g == 0:
                abs_truth += 1
                abs_found += s == "absent"
            if s == "strong" and g == 2:
                ev_n += 1
                text = corpus["texts"][best[d]]
                ev_ok += shares(text, row["evidence"][d])
                if second[d] >= 0:
                    text += EXCERPT_SEPARATOR + corpus["texts"][second[d]]
                ev2_ok += shares(text, row["evidence"][d])
        n_weak = sum(s == "weak" for s in status)
        n_abs = sum(s == "absent" for s in status)
        lines.append(f"{row['id']} {row['measure'][:28]}: tp={rtp} fp={rfp} fn={rfn} weak={n_weak} absent={n_abs} "
                     f"({row['seconds'] * 1000:.0f} ms)")
        tp, fp, fn = tp + rtp, fp + rfp, fn + rfn
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    ap = abs_right / (abs_right + abs_wrong) if abs_right + abs_wrong else 0.0
    ar = abs_found / abs_truth if abs_truth else 0.0
    ev = ev_ok / ev_n if ev_n else 0.0
    ev2 = ev2_ok / ev_n if ev_n else 0.0
    summary = (f"atlas {corpus['name']} present_F1={f1:.3f} present_P={p:.3f} present_R={r:.3f} absent_prec={ap:.3f} "
               f"absent_recall={ar:.3f} evidence={ev:.3f} n_cells={n_cells} (evidence_2={ev2:.3f})")
    return lines, summary


def judge(corpus: dict, row: dict, model: MatchModel, evidence: int = 2):
    """A row as /api/atlas judges it: status per document, its best passage and the second evidence passage."""
    z = model.logit(row["X"])
    best, zd = best_per_group(z, corpus["pos_doc"], corpus["n_docs"], empty=-50.0)
    p = sigmoid(zd)
    status = [model.level(float(v)) or "absent" for v in p]
    cut = float(np.log(model.t_strong / (1.0 - model.t_strong))) if 0 < model.t_strong < 1 else np.inf
    second = (second_passages(z, corpus["pos_doc"], corpus["n_docs"], best, corpus["sections"], cut)
              if evidence > 1 else np.full(corpus["n_docs"], -1, dtype=np.int64))
    return row, best, status, second


def cross_validate(corpora: list[dict], folds: int, C: float) -> dict[str, str]:
    everything = [(c, r) for c in corpora for r in c["rows"]]
    # a measure's own rows (its description, its name, its run over the other corpus) are held out together
    base = {r["id"]: re.sub(r"[nx]$", "", r["id"]) for _, r in everything}
    bases = list(dict.fromkeys(base.values()))
    if folds and folds < len(bases):
        fold_of = {b: k % folds for k, b in enumerate(bases)}
    else:
        fold_of = {b: k for k, b in enumerate(bases)}
    group = {i: fold_of[b] for i, b in base.items()}
    judged: dict[str, list] = {c["name"]: [] for c in corpora}
    cuts = []
    for g in sorted(set(group.values())):
        train = [(c, r) for c, r in everything if group[r["id"]] != g and r["train"]]
        model = fit_model(train, C)
        cuts.append((model.t_strong, model.t_weak))
        for c, r in everything:
            if group[r["id"]] == g:
                judged[c["name"]].append(judge(c, r, model))
    summaries = {}
    for c in corpora:
        order = {r["id"]: k for k, r in enumerate(c["rows"])}
        rows = sorted(judged[c["name"]], key=lambda t: order[t[0]["id"]])
        names = [t for t in rows if t[0]["name_row"]]
        if names:
            lines, summary = score_rows(c, names)
            print("\n".join(lines))
            print("name rows (the measure's name as the query): " + summary.replace("atlas ", "", 1))
        terms = [t for t in rows if t[0]["term_row"]]
        if terms:
            lines, summary = score_rows(c, terms)
            print("\n".join(lines))
            print("term rows (a term of art as the query; grep: absent where no alias is named, else a mention): "
                  + summary.replace("atlas ", "", 1))
            summaries[c["name"] + " terms"] = summary
        added = [t for t in rows if t[0]["added"] and not t[0]["term_row"]]
        if added:
            lines, summary = score_rows(c, added)
            print("\n".join(lines))
            print("added rows (grep-absent cells only): " + summary.replace("atlas ", "", 1))
        lines, summary = score_rows(c, [t for t in rows if not t[0]["added"] and not t[0]["name_row"]])
        print("\n".join(lines))
        print(summary)
        summaries[c["name"]] = summary
    ts = [t for t, _ in cuts]
    tw = [t for _, t in cuts]
    print(f"held-out cuts: t_strong {min(ts):.3f}-{max(ts):.3f}, t_weak {min(tw):.3f}-{max(tw):.3f} over {len(cuts)} folds")
    return summaries


def run_queries(engine, path: Path, k: int = 10) -> str:
    """Work-report queries through search: document cover@10 and MRR (paraphrases and topics apart)."""
    covers, rr_para, rr_all = [], [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        q = json.loads(line)
        relevant = set(q["relevant"])
        by_title = {d.display_title: d.doc_id for d in engine._state.documents.values()}
        want = {by_title[t] for t in relevant if t in by_title} or relevant
        result = engine.search(q["query"], k=k, per_doc=1)
        got = [h.doc_id for h in result.hits]
        cover = len(want & set(got[:k])) / min(len(want), k)
        rank = next((i for i, d in enumerate(got, 1) if d in want), None)
        rr = 1.0 / rank if rank else 0.0
        covers.append(cover)
        rr_all.append(rr)
        if q.get("paraphrase"):
            rr_para.append(rr)
        print(f"{q['id']} {'P' if q.get('paraphrase') else 'T'} {q['query'][:24]}: cover@{k}={cover:.2f} rr={rr:.2f} "
              f"relevant={len(want)} hits={len(got)}")
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    return (f"wr-queries cover@{k}={mean(covers):.3f} MRR={mean(rr_all):.3f} paraphrase_MRR={mean(rr_para):.3f} "
            f"n={len(covers)} paraphrases={len(rr_para)}")


def latency(engine, measures: list[str], repeat: int = 7) -> str:
    from search.atlas import compute_atlas

    engine._query_cache.clear()
    times, cpu = [], []
    for i in range(repeat):
        if i:
            engine._query_cache.clear()  # each run encodes its measures again, as a new request would
        t0, c0 = time.perf_counter(), time.process_time()
        result = compute_atlas(engine, measures, by="document")
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    import os

    return (f"atlas latency: {len(measures)} measures x {len(result.columns)} documents "
            f"p50={statistics.median(times) * 1000:.0f} ms max={max(times) * 1000:.0f} ms (first {times[0] * 1000:.0f} ms), "
            f"CPU p50={statistics.median(cpu) * 1000:.0f} ms, load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


# Topics no report of either corpus is about: each is also asked of both, judged absent wherever none of
# its words occurs (the grid's measures never ask for something a corpus lacks altogether).
NONSENSE = ["天气预报火锅", "火锅底料配方", "足球联赛球员转会", "演唱会门票抢购", "宠物猫狗美容", "股票涨停技巧",
            "电子游戏通关攻略", "减肥食谱推荐", "婚礼策划流程", "星座运势查询"]


def search_rows(engine, grid: list[dict], corpus_name: str, source: str, k: int = 100) -> str:
    """Grid rows through search (per_doc 1, default cut): rows by (level, grade), shipped and first-passage."""
    mapping = doc_map(engine, source)
    counts = {(way, level): [0, 0, 0] for way in ("shipped", "first") for level in ("strong", "weak")}
    for row in grid:
        if row.get("corpus") != corpus_name or "judgments" not in row:
            continue
        grade = {mapping[j["doc"]]: j["grade"] for j in row["judgments"] if j["doc"] in mapping}
        for query in (row["query"], row["measure"].split("（")[0]):
            shipped = engine.search(query, k=k, per_doc=1).hits
            every, offset = [], 0
            while True:  # every passage that passes the cut, page by page (the old rows: each document's first)
                page = engine.search(query, k=100, offset=offset)
                every += page.hits
                offset += 100
                if offset >= page.total:
                    break
            first = list({h.doc_id: h for h in reversed(every)}.values())[::-1][:k]
            for way, hits in (("shipped", shipped), ("first", first)):
                for h in hits:
                    counts[(way, h.match)][grade.get(h.doc_id, 0)] += 1
    def part(way: str) -> str:
        s, w = counts[(way, "strong")], counts[(way, "weak")]
        return (f"{way}: strong rows by grade 0/1/2 {s[0]}/{s[1]}/{s[2]}, weak rows {w[0]}/{w[1]}/{w[2]} "
                f"(weak rows judged absent {w[0] / max(1, sum(w)):.2f})")
    s2, w2 = counts[("shipped", "strong")][2], counts[("shipped", "weak")][2]
    return (f"search-rows {corpus_name} " + part("first") + "; " + part("shipped")
            + f"; grade2_strong={s2} grade2_weak={w2} first_grade2_strong={counts[('first', 'strong')][2]}")


def term_rows(path: Path, corpora: list[str], train: bool = True) -> list[dict]:
    """Rows of our own over every corpus: a term of art as users type it (公平竞争审查), judged by grep on its
    aliases: a document naming none is absent, one naming any mentions it (grade 1: never a training label)."""
    out = []
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            continue
        item = json.loads(line)
        for name in corpora:
            out.append({"id": item["id"], "corpus": name, "measure": item["measure"] + " (term)",
                        "query": item["measure"], "judgments": [], "grep": [to_simplified(a) for a in item["grep"]],
                        "term_row": True, "train": train})
    return out


def added_rows(grid: list[dict], corpora: list[str]) -> list[dict]:
    """Rows of our own, judged by grep only: each grid measure over the other corpus (a document that names
    none of the row's `aliases` is absent, one that names any is left unjudged) and the topics of NONSENSE."""
    from core.textform import tokenize_query

    out = []
    for item in grid:
        for name in corpora:
            if name != item["corpus"]:
                out.append({"id": item["id"] + "x", "corpus": name, "measure": item["measure"] + " (other corpus)",
                            "query": item["query"], "judgments": [], "grep": [to_simplified(a) for a in item["aliases"]]})
    for item in grid:  # the measure's name alone (义务教育), as users type it: same judgments
        name = re.sub(r"（[^）]*）|\([^)]*\)", "", item["measure"]).strip()
        if name and name != item["query"]:
            out.append({**item, "id": item["id"] + "n", "measure": name + " (name)", "query": name, "name_row": True})
    for i, query in enumerate(NONSENSE, 1):
        words = [t for t in tokenize_query(query) if len(t) >= 2] + [query]
        for name in corpora:
            out.append({"id": f"NX{i:02d}", "corpus": name, "measure": query, "query": query, "judgments": [],
                        "grep": words})
    return out


def http_latency(base: str, measures: list[str], repeat: int = 9) -> str:
    """GET /api/atlas on a running server; each call's measures are spelled anew (a trailing 。 more) so
    that none of their embeddings is cached."""
    import os
    import urllib.parse
    import urllib.request

    times = []
    for i in range(repeat):
        query = urllib.parse.urlencode([("m", m + "。" * i) for m in measures] + [("by", "document")])
        t0 = time.perf_counter()
        with urllib.request.urlopen(base.rstrip("/") + "/api/atlas?" + query, timeout=300) as r:
            body = json.load(r)
        times.append(time.perf_counter() - t0)
    return (f"HTTP /api/atlas {len(measures)} measures x {len(body['columns'])} documents ({len(body['cells'])} cells): "
            f"p50={statistics.median(times) * 1000:.0f} ms max={max(times) * 1000:.0f} ms, "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--grid", default=str(ROOT.parent / "shared/eval/atlas-dev-grid.jsonl"))
    ap.add_argument("--corpus", action="append", required=True, help="NAME=INDEX_DIR:SOURCE")
    ap.add_argument("--folds", type=int, default=0, help="K folds of measures (0: leave one measure out)")
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--calibrate", action="store_true", help="fit on all rows and write search/match_params.json")
    ap.add_argument("--no-aliases", action="store_true", help="ignore the shipped alias file")
    ap.add_argument("--queries", type=Path, default=None)
    ap.add_argument("--no-added", action="store_true", help="calibrate on the grid's rows only")
    ap.add_argument("--terms", type=Path, default=ROOT / "benchmarks" / "data" / "atlas-terms.jsonl",
                    help="terms of art judged by grep over every corpus (benchmarks/data/README-atlas.md)")
    ap.add_argument("--train-terms", action="store_true",
                    help="also fit on the term rows (default: judged only; docs/atlas.md says why)")
    ap.add_argument("--latency", action="store_true")
    ap.add_argument("--search-rows", action="store_true", help="grid rows through search: padding and levels shown")
    ap.add_argument("--url", default=None, help="also time GET /api/atlas on this running server")
    args = ap.parse_args()
    grid = [json.loads(line) for line in open(args.grid, encoding="utf-8") if line.strip()]
    names = [spec.split("=", 1)[0] for spec in args.corpus]
    judged_grid = list(grid)  # the grid's own rows, before ours are added
    if not args.no_added:
        grid = grid + added_rows(grid, names)
    if args.terms and args.terms.is_file():
        grid = grid + term_rows(args.terms, names, train=args.train_terms)
    corpora = []
    for spec in args.corpus:
        name, rest = spec.split("=", 1)
        index, source = rest.split(":", 1)
        corpus = dump_rows(name, index, source, grid, not args.no_aliases)
        print(f"# {name}: {len(corpus['rows'])} rows, {corpus['n_docs']} documents, {len(corpus['pos_doc'])} passages, "
              f"unmapped judged docs {corpus['unmapped']}", flush=True)
        corpora.append(corpus)
    summaries = cross_validate(corpora, args.folds, args.C)
    if args.calibrate:
        model = fit_model([(c, r) for c in corpora for r in c["rows"] if r["train"]], args.C)
        model.measured = {
            "grid": Path(args.grid).name, "cross_validation": "leave-one-measure-out" if not args.folds else f"{args.folds}-fold by measure",
            "held_out": summaries, "aliases": not args.no_aliases, "C": args.C,
            "command": "benchmarks/atlas.py --calibrate",
        }
        PARAMS_PATH.write_text(json.dumps(model.to_json(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {PARAMS_PATH.relative_to(ROOT)}: t_strong={model.t_strong:.3f} t_weak={model.t_weak:.3f}")
    if args.url:
        print(http_latency(args.url, [g["query"] for g in grid][:20]))
    for c in corpora:
        if args.queries and c["name"] == "cn-work-reports":
            print(run_queries(c["engine"], args.queries))
        if args.latency:
            print(latency(c["engine"], [g["query"] for g in grid][:20]))
        if args.search_rows:
            source = next(spec.split(":", 1)[1] for spec in args.corpus if spec.startswith(c["name"] + "="))
            print(search_rows(c["engine"], judged_grid, c["name"], source))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
