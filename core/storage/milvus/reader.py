"""The Milvus backend's reader: BM25 and dense search in Milvus over one generation's rows, filters as expressions."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from ...filters import UNKNOWN, Filters
from ...records import PASSAGE_FIELDS, PassageRecord, passage_from_row
from ...textform import to_simplified
from ..base import group_limited, grouped_top, tie_ordered_scored

PASSAGE_OUTPUT = list(PASSAGE_FIELDS)
DOC_FREQ_CACHE = 50_000
MAX_TOPK = 16384  # the most results one Milvus search returns


def quoted(value: str) -> str:
    """A string literal for a Milvus expression."""
    return json.dumps(value, ensure_ascii=False)


def like_prefix(value: str) -> str:
    """A LIKE pattern matching strings that start with `value` (its own % and _ escaped)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return quoted(escaped + "%")


def filter_expression(filters: Filters, exclude_doc: str | None = None) -> str:
    """The Milvus boolean expression admitting what `Filters.admits` admits (and not `exclude_doc`)."""
    parts = []
    known = lambda v: "" if v == UNKNOWN else v  # noqa: E731 - 未知 selects the documents without the field
    if filters.issuing_body:
        parts.append(f"issuing_body in [{', '.join(quoted(to_simplified(known(v))) for v in filters.issuing_body)}]")
    if filters.region:
        parts.append("(" + " or ".join(f"region like {like_prefix(to_simplified(v))}" if v != UNKNOWN else 'region == ""'
                                       for v in filters.region) + ")")
    if filters.doc_type:
        parts.append(f"doc_type in [{', '.join(quoted(known(v)) for v in filters.doc_type)}]")
    if filters.script:
        parts.append(f"script in [{', '.join(quoted(known(v)) for v in filters.script)}]")
    if filters.year_from is not None or filters.year_to is not None:
        parts.append("year >= 0")
        if filters.year_from is not None:
            parts.append(f"year >= {int(filters.year_from)}")
        if filters.year_to is not None:
            parts.append(f"year <= {int(filters.year_to)}")
    if exclude_doc is not None:
        parts.append(f"doc_id != {quoted(exclude_doc)}")
    return " and ".join(parts)


class MilvusReader:
    """One published version in Milvus; positions number its passages in the embedded index's order."""

    def __init__(self, store: Any) -> None:  # the MilvusStorage that opens it (no import back: store → reader)
        self.store = store
        self.client = store.client
        self.manifest = store.manifest()
        self.version = self.manifest.version
        self.model = self.manifest.model
        self.collection, _, self.visible = store.where(self.manifest)  # visible: this generation's rows
        self.key = "row_id" if self.manifest.generation else "passage_id"  # the primary key
        self.documents = {d.doc_id: d for d in store.version_documents(self.manifest)}
        # The embedded index's order (document name, id, ordinal): positions, and so tie order, agree.
        rows = sorted(self.store.rows(self.collection, list(dict.fromkeys([self.key, "passage_id", "doc_id", "ordinal"])),
                                      self.visible),
                      key=lambda r: (self.documents[r["doc_id"]].name, r["doc_id"], r["ordinal"]))
        self.passage_ids = [r["passage_id"] for r in rows]
        self.row_ids = [r[self.key] for r in rows]
        self.passage_pos = {pid: pos for pos, pid in enumerate(self.passage_ids)}
        # Two round trips at once would likely help a remote server; not measured yet, so one after the other.
        self.overlap_retrieval = False
        self.doc_of_pos = [r["doc_id"] for r in rows]
        self._doc_freq: dict[str, int] = {}
        self._lock = threading.Lock()
        self._grouping = True  # group_by_field, until the server says it can't

    def _positions(self, result) -> list[int]:
        """Positions in Milvus's rank order (ties put in position order, as the embedded reader does)."""
        return [pos for pos, _ in self._scored(result)]

    def _scored(self, result) -> list[tuple[int, float]]:
        """(position, Milvus's distance) in its rank order, ties put in position order."""
        hits = result[0] if result else []
        ids = [h["entity"]["passage_id"] if "entity" in h and "passage_id" in h["entity"] else h["passage_id"]
               for h in hits]
        return tie_ordered_scored([(self.passage_pos[i], float(h["distance"])) for i, h in zip(ids, hits)
                                   if i in self.passage_pos])

    def _filter(self, filters: Filters, exclude_doc: str | None) -> str:
        """The filters' expression and this generation's rows."""
        return " and ".join(e for e in (self.visible, filter_expression(filters, exclude_doc)) if e)

    def lexical_top(self, tokens: list[str], n: int, filters: Filters, exclude_doc: str | None) -> list[int]:
        return [pos for pos, _ in self.lexical_ranked(tokens, n, filters, exclude_doc)]

    def lexical_ranked(self, tokens: list[str], n: int, filters: Filters, exclude_doc: str | None) -> list[tuple[int, float]]:
        if not tokens or not self.passage_ids:
            return []
        result = self.client.search(
            self.collection, data=[" ".join(tokens)], anns_field="sparse", limit=n,
            filter=self._filter(filters, exclude_doc), search_params={"metric_type": "BM25"},
            output_fields=["passage_id"],
        )
        return [(pos, abs(score)) for pos, score in self._scored(result)]  # Lite reports BM25 scores negated

    def dense_ranked(self, vector: np.ndarray, n: int, filters: Filters, exclude_doc: str | None) -> list[tuple[int, float]]:
        if not self.passage_ids:
            return []
        return self._scored(self.client.search(
            collection_name=self.collection, data=[np.asarray(vector, np.float32).tolist()], anns_field="vector",
            filter=self._filter(filters, exclude_doc), search_params={"metric_type": "IP"},
            output_fields=["passage_id"], limit=n))

    def dense_top(self, vector: np.ndarray, n: int, filters: Filters, exclude_doc: str | None,
                  per_doc: int | None = None) -> list[int]:
        if not self.passage_ids:
            return []
        query = dict(collection_name=self.collection, data=[np.asarray(vector, np.float32).tolist()],
                     anns_field="vector", filter=self._filter(filters, exclude_doc),
                     search_params={"metric_type": "IP"}, output_fields=["passage_id"])
        if per_doc is not None and self._grouping:
            try:
                result = self.client.search(**query, limit=n, group_by_field="doc_id", group_size=per_doc,
                                            strict_group_size=False)
                return group_limited(self._positions(result), self.doc_of_pos, per_doc, n)
            except Exception:  # noqa: BLE001 - a server without grouping: group here from now on
                self._grouping = False
        if per_doc is None:
            return self._positions(self.client.search(**query, limit=n))
        return grouped_top(lambda size: self._positions(self.client.search(**query, limit=size)), self.doc_of_pos,
                           per_doc, n, MAX_TOPK)

    def passage_at(self, pos: int) -> PassageRecord:
        return self.passages_at([pos])[0]

    def passages_at(self, positions: list[int]) -> list[PassageRecord]:
        if not positions:
            return []
        rows = self.client.get(self.collection, ids=[self.row_ids[p] for p in positions], output_fields=PASSAGE_OUTPUT)
        by_id = {r["passage_id"]: passage_from_row(r) for r in rows}
        return [by_id[self.passage_ids[p]] for p in positions]

    def passage_columns(self, positions: list[int], columns: Sequence[str]) -> list[tuple]:
        if not positions:
            return []
        rows = self.client.get(self.collection, ids=[self.row_ids[p] for p in positions],
                               output_fields=["passage_id", *columns])
        by_id = {r["passage_id"]: tuple(r[c] for c in columns) for r in rows}
        return [by_id[self.passage_ids[p]] for p in positions]

    def vector_at(self, pos: int) -> np.ndarray:
        return self.vectors_at([pos])[0]

    def vectors_at(self, positions: list[int]) -> np.ndarray:
        if not positions:
            return np.zeros((0, self.manifest.model.dim), np.float32)
        rows = self.client.get(self.collection, ids=[self.row_ids[p] for p in positions],
                               output_fields=["passage_id", "vector"])
        by_id = {r["passage_id"]: r["vector"] for r in rows}
        return np.asarray([by_id[self.passage_ids[p]] for p in positions], np.float32)

    def document_passages(self, doc_id: str) -> list[PassageRecord]:
        passages, _ = self.store.version_passages(self.manifest, filter_expr=f"doc_id == {quoted(doc_id)}")
        return passages

    def doc_freq(self, token: str) -> int:
        """In how many passages a token occurs (Milvus TEXT_MATCH on the analyzed tokens), cached."""
        with self._lock:
            if token in self._doc_freq:
                return self._doc_freq[token]
        match = " and ".join(e for e in (self.visible, f"TEXT_MATCH(tokens, {quoted(token)})") if e)
        rows = self.client.query(self.collection, filter=match,
                                 output_fields=["count(*)"])
        count = int(rows[0]["count(*)"]) if rows else 0
        with self._lock:
            if len(self._doc_freq) < DOC_FREQ_CACHE:
                self._doc_freq[token] = count
        return count
