"""The measure atlas: for every measure × every column in scope, one cell: strong, weak or absent.

A column is a document, or all documents of one issuing body, region or year. A cell's status is the
match level of the best passage of the column for the measure (search/match.py); a column with no strong
or weak passage is absent and carries no passage. Measures are what a user types, a name or a short
description, with optional aliases after `|` (农民工|进城务工人员); the shipped alias file adds more.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from core.filters import Filters
from core.textform import matching_form, tokenize_query

from .aliases import split_measure
from .highlight import highlight_spans
from .match import MatchModel, analyze, default_model, features, passage_table
from .results import SearchResult, group_by_document

ATLAS_BY = ("document", "issuing_body", "region", "year")
UNKNOWN = "未知"
MAX_MEASURES = 50
# A strong cell's evidence text: its best passage (1, the default), or with `evidence=2` that and a second
# strong passage from another part of the report (its review and its plans). 2 shows users both sides, but it
# also passes the dev grid's substring scorer more easily (0.734 → 0.909 held out), so it is an option rather
# than the default, and the benchmark reports it apart (docs/atlas.md).
EVIDENCE_PASSAGES = 1
EXCERPT_SEPARATOR = " … "


@dataclass
class AtlasResult:
    """The atlas answer: measures with counts, columns, and one cell per measure × column."""

    by: str
    measures: list[dict]
    columns: list[dict]
    cells: list[dict]
    filters: Filters = field(default_factory=Filters)
    version: str = ""
    rank: dict = field(default_factory=dict, repr=False)  # id(cell) → log-odds (not part of the answer)

    def to_json(self) -> dict:
        return {"by": self.by, "version": self.version, "filters": self.filters.to_json(),
                "measures": self.measures, "columns": self.columns, "cells": self.cells}


def column_key(doc, by: str) -> str:
    """The column a document belongs to."""
    if by == "document":
        return doc.doc_id
    return getattr(doc, by) or UNKNOWN


def measure_queries(engine, measures: list[str]) -> list:
    """The analysed measures with their embeddings, the ones not in the engine's cache encoded in one batch."""
    parsed = []
    for measure in measures:
        text, extra = split_measure(measure)
        if not text:
            raise ValueError("a measure is empty")
        parsed.append((matching_form(text), analyze(text, extra)))
    with engine._cache_lock:
        missing = list(dict.fromkeys(key for key, _ in parsed if key not in engine._query_cache))
    if missing:
        vectors = engine.encoder.encode_queries(missing)
        with engine._cache_lock:
            for key, vector in zip(missing, vectors):
                engine._query_cache[key] = vector
    out = []
    for key, mq in parsed:
        mq.vector = engine._query_vector(key)
        out.append(mq)
    return out


def measure_scores(engine, state, measures: list[str], positions: np.ndarray, model: MatchModel):
    """(probabilities over `positions`, analysed measure) for each measure, the dense part in one product."""
    table = passage_table(state)
    queries = measure_queries(engine, measures)
    dense = [None] * len(queries)
    if table.vectors is not None and queries:
        sims = table.vectors @ np.stack([mq.vector for mq in queries]).astype(np.float32).T
        mu, sd, best = sims.mean(axis=0), sims.std(axis=0) + 1e-6, sims.max(axis=0)
        dense = [(sims[positions, j], float(mu[j]), float(sd[j]), float(best[j])) for j in range(len(queries))]
    out = []
    for mq, d in zip(queries, dense):
        X, _ = features(table, mq, positions, dense=d)
        out.append((model.logit(X), mq))
    return out


def best_per_group(p: np.ndarray, group: np.ndarray, n_groups: int, empty: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(index of the best item, its score) per group; -1 and `empty` for a group without items. Ties go to
    the first item. Linear in the items (one scatter-max, no sort): it runs three times per measure."""
    best_idx = np.full(n_groups, -1, dtype=np.int64)
    best_p = np.full(n_groups, empty, dtype=np.float64)
    if len(p) == 0:
        return best_idx, best_p
    p = np.asarray(p, dtype=np.float64)
    top = np.full(n_groups, -np.inf)
    np.maximum.at(top, group, p)
    at_top = np.flatnonzero(p == top[group])[::-1]  # reversed: the first of tied items is written last
    best_idx[group[at_top]] = at_top
    found = best_idx >= 0
    best_p[found] = p[best_idx[found]]
    return best_idx, best_p


def second_passages(z: np.ndarray, group: np.ndarray, n_groups: int, best: np.ndarray, sections: np.ndarray,
                    cut: float) -> np.ndarray:
    """Per group (document), the index of its second evidence passage, or -1: the best other item with
    z >= cut, one under another top-level heading than the group's best item first (a report addresses a
    measure in its review of what was done and again in its plans; the second passage shows the other part
    rather than the paragraph next to the first).

    `best`: each group's best item (-1 for none), as best_per_group gives it.
    """
    out = np.full(n_groups, -1, dtype=np.int64)
    if len(z) == 0:
        return out
    first = best[group]
    ok = (z >= cut) & (first >= 0) & (np.arange(len(z)) != first)
    if not ok.any():
        return out
    idx = np.flatnonzero(ok)
    other = sections[idx] != sections[first[idx]]
    # another section first, then by score: the bonus exceeds any spread of log-odds above the cut
    key = z[idx] + np.where(other, 1e6, 0.0)
    chosen, _ = best_per_group(key, group[idx], n_groups, empty=-1.0)
    out[chosen >= 0] = idx[chosen[chosen >= 0]]
    return out


def evidence_text(records: list, highlight_terms: list[str], folded: list[str | None] | None = None,
                  phrases: Sequence[str] = ()) -> tuple[str, list[list[int]], list[dict]]:
    """(text, highlights, excerpts) of a cell's evidence passages, joined by EXCERPT_SEPARATOR; each excerpt
    says which passage it is and where it sits in the text. `folded`: the passages' matching forms."""
    parts, spans, excerpts, offset = [], [], [], 0
    for k, record in enumerate(records):
        if k:
            parts.append(EXCERPT_SEPARATOR)
            offset += len(EXCERPT_SEPARATOR)
        marks, _terms = highlight_spans(record.text, highlight_terms, folded[k] if folded else None, phrases)
        spans += [[s + offset, e + offset] for s, e in marks]
        excerpts.append({"passage_id": record.passage_id, "start": offset, "end": offset + len(record.text)})
        parts.append(record.text)
        offset += len(record.text)
    return "".join(parts), spans, excerpts


def compute_atlas(engine, measures: list[str], by: str = "document", filters: Filters | None = None,
                  model: MatchModel | None = None, evidence: int = EVIDENCE_PASSAGES) -> AtlasResult:
    """Every measure × every column in scope (the documents the filters admit).

    `evidence`: how many passages a strong cell's text holds at most (1 or 2, see second_passages); a weak
    cell's is its one passage."""
    if by not in ATLAS_BY:
        raise ValueError(f"by must be one of {', '.join(ATLAS_BY)}")
    measures = [m.strip() for m in measures if m and m.strip()]
    if not measures:
        raise ValueError("give at least one measure (m=…)")
    if len(measures) > MAX_MEASURES:
        raise ValueError(f"at most {MAX_MEASURES} measures")
    model = model or default_model()
    filters = filters or Filters()
    state = engine._state
    docs = sorted((d for d in state.documents.values() if filters.admits(d)),
                  key=lambda d: (d.year or "9999", d.display_title, d.doc_id))
    keys: list[str] = []
    columns: list[dict] = []
    col_of_doc: dict[str, int] = {}
    for doc in docs:
        key = column_key(doc, by)
        if key not in keys:
            keys.append(key)
            if by == "document":
                columns.append({"key": key, "title": doc.display_title, "source": doc.name,
                                "issuing_body": doc.issuing_body, "region": doc.region, "year": doc.year,
                                "doc_type": doc.doc_type, "script": doc.script, "documents": 1})
            else:
                columns.append({"key": key, "title": key, "source": "", "issuing_body": key if by == "issuing_body" else "",
                                "region": key if by == "region" else "", "year": key if by == "year" else "",
                                "doc_type": "", "script": "", "documents": 0})
        col_of_doc[doc.doc_id] = keys.index(key)
        if by != "document":
            columns[col_of_doc[doc.doc_id]]["documents"] += 1
    doc_index = {doc.doc_id: i for i, doc in enumerate(docs)}
    pos_doc = np.array([doc_index.get(d, -1) for d in state.doc_of_pos], dtype=np.int64)
    positions = np.flatnonzero(pos_doc >= 0)
    pos_doc = pos_doc[positions]
    doc_col = np.array([col_of_doc[d.doc_id] for d in docs], dtype=np.int64)
    years = [int(d.year) if d.year.isdigit() else None for d in docs]

    if evidence not in (1, 2):
        raise ValueError("evidence must be 1 or 2")
    sections = passage_table(state).sections[positions]
    strong_cut = float(np.log(model.t_strong / (1.0 - model.t_strong))) if 0 < model.t_strong < 1 else np.inf

    out_measures, cells, wanted = [], [], []
    rank_of: dict[int, float] = {}  # a cell's log-odds, for ordering cells whose probabilities round to 1
    for measure, (z, mq) in zip(measures, measure_scores(engine, state, measures, positions, model)):
        best_doc, z_doc = best_per_group(z, pos_doc, len(docs), empty=-50.0)
        second_doc = (second_passages(z, pos_doc, len(docs), best_doc, sections, strong_cut) if evidence > 1
                      else np.full(len(docs), -1, dtype=np.int64))
        best_col, z_col = best_per_group(z_doc, doc_col, len(keys), empty=-50.0)
        p_doc, p_col = sigmoid(z_doc), sigmoid(z_col)
        counts = {"strong": 0, "weak": 0, "absent": 0}
        first_year = None
        for i, v in enumerate(p_doc):
            if model.level(float(v)) and years[i] is not None:
                first_year = years[i] if first_year is None else min(first_year, years[i])
        for c, key in enumerate(keys):
            level = model.level(float(p_col[c])) if best_col[c] >= 0 else None
            status = level or "absent"
            counts[status] += 1
            cell = {"measure": measure, "column": key, "status": status, "passage_id": None, "text": None,
                    "highlights": [], "score": round(float(p_col[c]), 4)}
            rank_of[id(cell)] = float(z_col[c])
            if level:
                doc_i = int(best_col[c])
                picked = [int(positions[best_doc[doc_i]])]
                if level == "strong" and second_doc[doc_i] >= 0:
                    picked.append(int(positions[second_doc[doc_i]]))
                wanted.append((cell, picked, mq))
            cells.append(cell)
        out_measures.append({"measure": measure, **counts, "first_year": first_year})
    records = iter(state.passages_at([pos for _, picked, _ in wanted for pos in picked]))
    for cell, picked, mq in wanted:
        chosen = [next(records) for _ in picked]
        text, spans, excerpts = evidence_text(chosen, mq.highlight_terms, [r.match_text.lower() for r in chosen],
                                             mq.phrases)
        cell.update(passage_id=chosen[0].passage_id, text=text, highlights=spans, doc_id=chosen[0].doc_id,
                    heading_path=chosen[0].heading_path, passages=excerpts)
    result = AtlasResult(by, out_measures, columns, cells, filters, state.version)
    result.rank = {id(c): rank_of[id(c)] for c in cells}
    return result


def sigmoid(z: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-np.asarray(z, dtype=np.float64)))
    p[np.asarray(z) <= -50.0] = 0.0
    return p


TIER = {"strong": 0, "weak": 1, "absent": 2}


def compare_rows(engine, state, query: str, by: str, filters: Filters, limit: int, min_match: str):
    """Compare with a match cut: the best passage of each document (or body) that addresses the topic,
    strong before weak, and the documents (or bodies) in scope that don't (`absent`, shown as 未提及)."""
    from .filters import facet_counts

    atlas = compute_atlas(engine, [query], by="document", filters=Filters())
    docs = state.documents
    cells = [c for c in atlas.cells if c["column"] in docs]
    matched_docs = [docs[c["column"]] for c in cells if c["status"] != "absent"]
    facets = facet_counts(matched_docs, filters)
    best: dict[str, dict] = {}
    for cell in cells:
        doc = docs[cell["column"]]
        if not filters.admits(doc):
            continue
        key = doc.doc_id if by == "document" else (doc.issuing_body or UNKNOWN)
        rank = (TIER[cell["status"]], -atlas.rank[id(cell)])
        if key not in best or rank < best[key][0]:
            best[key] = (rank, cell, doc)
    ordered = sorted(best.values(), key=lambda t: (t[0], t[2].display_title))
    wanted = {"strong": ("strong",), "weak": ("strong", "weak")}[min_match]
    rows = [(cell, doc) for _, cell, doc in ordered if cell["status"] in wanted][:limit]
    absent = [
        {"key": key, "doc_id": doc.doc_id if by == "document" else None,
         "title": doc.display_title if by == "document" else key, "source": doc.name if by == "document" else "",
         "issuing_body": doc.issuing_body, "region": doc.region, "year": doc.year, "status": "absent"}
        for key, (_, cell, doc) in ((k, v) for k, v in best.items()) if cell["status"] == "absent"
    ]
    absent.sort(key=lambda a: (a["year"] or "9999", a["title"]))
    records = state.passages_at([state.passage_pos[c["passage_id"]] for c, _ in rows])
    mq = analyze(query)
    marks = mq.highlight_terms + tokenize_query(query)
    hits = [engine._hit(state, record, cell["score"], marks, None, None, level=(cell["status"], cell["score"]),
                        phrases=mq.phrases)
            for (cell, _), record in zip(rows, records)]
    return SearchResult(hits, query=query, version=state.version, groups=group_by_document(hits),
                        facets=facets, filters=filters, min_match=min_match, absent=absent)


HEADING_NUMBER = re.compile(r"^[\s（(]*[一二三四五六七八九十百\d]+[）)、.．\s]*")
# A report's own parts, not measures: a dated heading (2023年工作计划, 对今年政府工作的建议, 过去五年工作回顾) or
# one on the report's state of affairs (建设情况, 下一步工作打算, 存在的问题和不足). In the seeds these were 3 of
# the first 24 suggestions, in the 88 work reports 2 of the first 40.
REPORT_PART = re.compile(r"(?:\d{4}|[〇零一二三四五六七八九]{4})年|今年|明年|去年|下一步|过去|"
                         r"(?:情况|计划|打算|安排|思路|不足|问题|回顾)$")

# A heading's frame around its measure (以强化合法性审核为切入点, 以加强制度建设为中心点): the measure is inside.
# In the seeds 4 of the first 30 suggestions were framed so.
FRAME = re.compile(r"^以(.{2,12}?)为(?:切入点|中心点|着力点|关键点|落脚点|突破口|抓手|重点|核心|主线|载体)$")


def suggestion_phrase(part: str) -> str:
    """A heading part as a measure: its numbering, trailing clause and frame (以…为切入点) dropped."""
    phrase = re.split(r"[，,。；;：:！!]", HEADING_NUMBER.sub("", part))[0].strip()
    framed = FRAME.match(phrase)
    return framed.group(1) if framed else phrase


def heading_suggestions(state, n: int = 30) -> list[str]:
    """Measures to suggest, from the corpus's own headings: short heading phrases found in 2+ documents
    (suggestion_phrase), most widespread first."""
    cached = getattr(state, "_fazhi_suggestions", None)
    if cached is not None:
        return cached[:n]
    seen: dict[str, set[str]] = {}
    table = passage_table(state)
    names = table.headings.names
    phrases: dict[int, list[str]] = {}  # per distinct heading, its phrases (headings repeat heavily)
    for code, doc_id in set(zip(table.headings.codes.tolist(), table.doc_ids)):
        if code not in phrases:
            parts = names[code].split(" ") if names[code] else ()
            phrases[code] = [p for p in map(suggestion_phrase, parts) if 3 <= len(p) <= 14 and not REPORT_PART.search(p)]
        for phrase in phrases[code]:
            seen.setdefault(phrase, set()).add(doc_id)
    spread = 2 if len(state.documents) > 5 else 1
    ranked = sorted((p for p, docs in seen.items() if len(docs) >= spread), key=lambda p: (-len(seen[p]), p))
    state._fazhi_suggestions = ranked
    return ranked[:n]
