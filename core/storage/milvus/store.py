"""The Milvus backend's storage: passage and document collections whose rows carry generations, and a pointer.

Layout for an index named N (default "fazhi"):
- `N_meta`: one row, the published manifest with its generation G (the pointer a reader follows, like CURRENT).
- `N_passages`: the passages: ids, the matching form segmented by our jieba tokens and analyzed by Milvus's
  jieba (with its BM25 function feeding a sparse field), the original text, heading path, the metadata the
  filters use, the dense vector, and `added` / `deleted`: the generations that inserted and removed the row.
- `N_documents`: the documents (metadata as JSON, cleaned text in chunks), with the same two generations.
A reader of generation G admits only rows with `added <= G and (deleted == 0 or deleted > G)`. A publish
inserts the changed documents' rows at G+1 and marks the rows they replace (and removed documents' rows)
deleted at G+1, then switches the pointer to G+1: readers see all of a change or none of it, and only the
changed documents' rows are written. Rows neither G+1 nor G can see are deleted after the switch.
Indexes written before generations (`N_<version>` and `N_<version>_docs` per version) are still read, and
are copied into the collections above by the next publish. Milvus needs a vector field in every collection,
so the meta and document collections carry a 2-d placeholder vector.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from contextlib import contextmanager
from typing import Iterator

import numpy as np

from ...errors import BackendUnavailableError, IndexNotFoundError
from ...model import ModelInfo
from ...records import (
    PASSAGE_FIELDS, DocumentRecord, Manifest, PassageRecord, document_from_row, document_row,
    passage_from_row, passage_row,
)
from ...settings import Settings
from ..base import IndexChanges
from ...textform import to_simplified
from .reader import MilvusReader

DEFAULT_COLLECTION = "fazhi"
# Milvus's jieba in exact mode without HMM over our own search-mode tokens (space-joined) keeps them as they
# are: BM25 then counts the same terms in both backends (measured: 97% of BM25 top-10 positions equal, 100%
# of fused; the default search mode re-expands compounds and drops BM25 parity to 63%).
ANALYZER = {"tokenizer": {"type": "jieba", "mode": "exact", "hmm": False}, "filter": ["cnalphanumonly"]}
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s' defaults, so both backends weigh terms alike
TEXT_CHUNK = 8000  # characters of document text per row (VARCHAR holds at most 65,535 bytes)
INSERT_BATCH = 500
PAGE = 4000  # rows per query page
PLACEHOLDER = [0.0, 1.0]


def connect(uri: str, token: str = ""):
    """A MilvusClient for a Lite .db path or a server URI (http://host:19530)."""
    try:
        from pymilvus import MilvusClient

        logging.getLogger("pymilvus").setLevel(logging.ERROR)  # Lite's iterator warns about timestamps
        if not uri.startswith(("http://", "https://", "tcp://", "unix:")):
            # In-process Lite logs each RPC it lacks (AllocTimestamp, used by query_iterator, which then
            # falls back to a client-side timestamp) as an error of its embedded gRPC server.
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    except ImportError as exc:
        raise BackendUnavailableError("the milvus backend needs pymilvus: pip install 'fazhi-search[milvus]'") from exc
    try:
        return MilvusClient(uri=uri, token=token) if token else MilvusClient(uri=uri)
    except Exception as exc:  # noqa: BLE001 - connection, missing milvus-lite, bad path
        raise BackendUnavailableError(f"cannot open Milvus at {uri!r}: {exc}") from exc


def visible(generation: int) -> str:
    """The expression admitting the rows generation `generation` sees: added by then, not deleted by then."""
    return f"added <= {generation} and (deleted == 0 or deleted > {generation})"


def _writable(row: dict) -> dict:
    """A row read back, as it can be written again (the BM25 function's output is computed by Milvus)."""
    return {k: v for k, v in row.items() if k != "sparse"}


def year_number(year: str) -> int:
    """The year as an integer field (-1 when unknown, which no year filter admits)."""
    return int(year) if year.isdigit() else -1


class MilvusStorage:
    """Write and read one index's collections in a Milvus instance."""

    refresh_interval = 1.0  # seconds a server waits between asking for a newer version (one query each)

    def __init__(self, uri: str, token: str = "", name: str = DEFAULT_COLLECTION) -> None:
        self.uri, self.name = uri, name
        self.location = f"Milvus {uri} (collection {name})"
        self.client = connect(uri, token)

    @classmethod
    def from_settings(cls, settings: Settings) -> "MilvusStorage":
        """The collections the settings name."""
        if not settings.milvus_uri:
            raise ValueError("the milvus backend needs --milvus-uri (a Milvus Lite .db path or http://host:19530)")
        return cls(settings.milvus_uri, settings.milvus_token, settings.milvus_collection or DEFAULT_COLLECTION)

    def open_reader(self) -> MilvusReader:
        """A reader of the published version."""
        return MilvusReader(self)

    # -- the pointer -------------------------------------------------------------------------
    @property
    def meta_collection(self) -> str:
        return f"{self.name}_meta"

    def manifest(self) -> Manifest:
        """The published version's manifest; IndexNotFoundError when nothing is published."""
        if not self.client.has_collection(self.meta_collection):
            raise IndexNotFoundError(f"no index {self.name!r} in Milvus at {self.uri}; run `fazhi index` first")
        rows = self.client.query(self.meta_collection, filter='key == "current"', output_fields=["manifest"])
        if not rows:
            raise IndexNotFoundError(f"no index {self.name!r} in Milvus at {self.uri}; run `fazhi index` first")
        return Manifest.from_json(json.loads(rows[0]["manifest"]))

    def current_version(self) -> str | None:
        """The published version's name, or None."""
        try:
            return self.manifest().version
        except IndexNotFoundError:
            return None

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer at a time in this process (Milvus has no cross-client lock; run one indexer per index)."""
        yield

    # -- where a version's rows are -----------------------------------------------------------
    def where(self, manifest: Manifest) -> tuple[str, str, str]:
        """(passage collection, document collection, the expression admitting the version's rows)."""
        if manifest.generation:
            return self.passages_collection, self.documents_collection, visible(manifest.generation)
        return f"{self.name}_{manifest.version}", f"{self.name}_{manifest.version}_docs", ""  # before generations

    @property
    def passages_collection(self) -> str:
        return f"{self.name}_passages"

    @property
    def documents_collection(self) -> str:
        return f"{self.name}_documents"

    # -- writing -----------------------------------------------------------------------------
    def publish(self, documents: list[DocumentRecord], passages: list[PassageRecord], vectors: np.ndarray,
                model: ModelInfo) -> str:
        """Make exactly these documents the published ones (every row rewritten); returns the version name."""
        try:
            manifest = self.manifest()
        except IndexNotFoundError:
            manifest = None
        removed = [d.doc_id for d in self.documents(with_text=False)] if manifest is not None else []
        given = {d.doc_id for d in documents}
        return self.publish_changes(IndexChanges(list(documents), list(passages), vectors,
                                                 [d for d in removed if d not in given]), model)

    def publish_changes(self, changes: IndexChanges, model: ModelInfo) -> str:
        """Insert the changed documents' rows and mark the replaced and removed ones, at generation G+1, then
        switch the meta row to G+1: readers filter on the generation, so they see all of a change or none.

        Rows a publish cut off before its switch left (added after G, or marked at G+1) are undone first.
        Rows no kept generation can see (deleted at or before the previous one) are deleted afterwards.
        """
        try:
            manifest = self.manifest()
        except IndexNotFoundError:
            manifest = None
        if manifest is not None and not manifest.generation:
            return self._migrate(manifest, changes, model)
        generation = manifest.generation if manifest is not None else 0
        if manifest is None:
            self._create_collections(model.dim)
        self._undo_unpublished(generation)
        new = generation + 1
        live = self._live_documents(generation) if manifest is not None else {}
        unknown = [d for d in changes.removed if d not in live]
        if unknown:
            raise KeyError(f"no document {', '.join(unknown)} in {self.location}")
        gone = sorted(set(changes.removed) | {d.doc_id for d in changes.documents if d.doc_id in live})
        by_id = {d.doc_id: d for d in changes.documents}
        vectors = np.asarray(changes.vectors, np.float32).reshape(-1, model.dim)
        self._insert(self.passages_collection, [self._passage_row(p, v, by_id, new) for p, v in zip(changes.passages, vectors)])
        self._insert(self.documents_collection, [row for d in changes.documents for row in self._document_rows(d, new)])
        removed_passages = self._mark_deleted(gone, generation, new)
        for collection in (self.passages_collection, self.documents_collection):
            self.client.flush(collection)
        version = time.strftime("g%Y%m%d_%H%M%S_") + uuid.uuid4().hex[:6]
        full = Manifest(version=version, model=model, documents=len(live) - len(gone) + len(changes.documents),
                        passages=(manifest.passages if manifest else 0) - removed_passages + len(changes.passages),
                        created=time.time(), backend="milvus", generation=new,
                        dense={"type": "milvus", "index": "FLAT", "metric": "IP"})
        self._switch(full)
        self._purge(generation)
        return version

    def merge_if_due(self) -> str | None:
        """Nothing to merge: rows no kept generation sees are deleted by every publish (Milvus compacts)."""
        return None

    def _migrate(self, manifest: Manifest, changes: IndexChanges, model: ModelInfo) -> str:
        """A version written before generations, with a change applied, as generation 1 (vectors read back)."""
        documents, passages, vectors = self.load()
        known = {d.doc_id for d in documents}
        unknown = [d for d in changes.removed if d not in known]
        if unknown:
            raise KeyError(f"no document {', '.join(unknown)} in {self.location}")
        gone = set(changes.removed) | {d.doc_id for d in changes.documents}
        keep = [i for i, p in enumerate(passages) if p.doc_id not in gone]
        for collection in (self.passages_collection, self.documents_collection):  # a migration cut off before
            if self.client.has_collection(collection):
                self.client.drop_collection(collection)
        self._create_collections(model.dim)
        documents = [d for d in documents if d.doc_id not in gone] + list(changes.documents)
        passages = [passages[i] for i in keep] + list(changes.passages)
        vectors = np.concatenate([vectors[keep].reshape(-1, model.dim),
                                  np.asarray(changes.vectors, np.float32).reshape(-1, model.dim)])
        by_id = {d.doc_id: d for d in documents}
        self._insert(self.passages_collection, [self._passage_row(p, v, by_id, 1) for p, v in zip(passages, vectors)])
        self._insert(self.documents_collection, [row for d in documents for row in self._document_rows(d, 1)])
        for collection in (self.passages_collection, self.documents_collection):
            self.client.flush(collection)
        version = time.strftime("g%Y%m%d_%H%M%S_") + uuid.uuid4().hex[:6]
        self._switch(Manifest(version=version, model=model, documents=len(documents), passages=len(passages),
                              created=time.time(), backend="milvus", generation=1,
                              dense={"type": "milvus", "index": "FLAT", "metric": "IP"}))
        self._drop_old({manifest.version})  # readers may still hold the version before generations
        return version

    def _create_collections(self, dim: int) -> None:
        """The passage and document collections, when they are not there yet."""
        if not self.client.has_collection(self.passages_collection):
            self._create_passages(self.passages_collection, dim)
        if not self.client.has_collection(self.documents_collection):
            self._create_placeholder(self.documents_collection, {"row_id": 256, "doc_id": 200, "chunk": 0, "record": 65535,
                                                                 "text": 65535, "added": 0, "deleted": 0})

    def _switch(self, manifest: Manifest) -> None:
        """Point the meta row at a manifest (one upsert: what readers follow)."""
        if not self.client.has_collection(self.meta_collection):
            self._create_placeholder(self.meta_collection, {"key": 64, "manifest": 65535})
        self.client.upsert(self.meta_collection, [{"key": "current", "manifest": json.dumps(manifest.to_json(), ensure_ascii=False),
                                                   "placeholder": PLACEHOLDER}])
        self.client.flush(self.meta_collection)

    def _live_documents(self, generation: int) -> set[str]:
        """Ids of the documents generation `generation` sees."""
        rows = self.rows(self.documents_collection, ["doc_id"], f"chunk == 0 and {visible(generation)}")
        return {r["doc_id"] for r in rows}

    def _undo_unpublished(self, generation: int) -> None:
        """Undo what a publish cut off before its switch wrote: rows it added, marks it set."""
        for collection in (self.passages_collection, self.documents_collection):
            self.client.delete(collection, filter=f"added > {generation}")
            marked = self.rows(collection, ["*"], f"deleted > {generation}")
            if marked:
                self._upsert(collection, [{**_writable(r), "deleted": 0} for r in marked])
            self.client.flush(collection)

    def _mark_deleted(self, doc_ids: list[str], generation: int, new: int) -> int:
        """Mark the rows of these documents that `generation` sees as deleted at `new`; passages marked."""
        if not doc_ids:
            return 0
        listed = ", ".join(json.dumps(d, ensure_ascii=False) for d in doc_ids)
        count = 0
        for collection in (self.passages_collection, self.documents_collection):
            rows = self.rows(collection, ["*"], f"doc_id in [{listed}] and {visible(generation)}")
            self._upsert(collection, [{**_writable(r), "deleted": new} for r in rows])
            if collection == self.passages_collection:
                count = len(rows)
        return count

    def _purge(self, generation: int) -> None:
        """Delete rows that neither the new generation nor the one before it (still read) can see."""
        for collection in (self.passages_collection, self.documents_collection):
            self.client.delete(collection, filter=f"deleted > 0 and deleted <= {generation}")
        self._drop_old(set())  # collections of versions before generations, once no kept version is one

    def _upsert(self, collection: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), INSERT_BATCH):
            self.client.upsert(collection, rows[start : start + INSERT_BATCH])

    def _create_passages(self, collection: str, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("row_id", DataType.VARCHAR, is_primary=True, max_length=300)  # passage id @ generation
        schema.add_field("passage_id", DataType.VARCHAR, max_length=256)
        schema.add_field("added", DataType.INT64)  # the generation that inserted the row
        schema.add_field("deleted", DataType.INT64)  # the generation that removed it (0: none yet)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=128)
        schema.add_field("ordinal", DataType.INT64)
        schema.add_field("start", DataType.INT64)
        schema.add_field("end", DataType.INT64)
        schema.add_field("kind", DataType.VARCHAR, max_length=32)
        schema.add_field("heading_path", DataType.VARCHAR, max_length=8192)
        schema.add_field("text", DataType.VARCHAR, max_length=65535)
        schema.add_field("match_text", DataType.VARCHAR, max_length=65535)
        # Our jieba search-mode tokens joined by spaces: Milvus's jieba keeps them as they are, so BM25 counts
        # the same terms as the embedded backend's bm25s.
        schema.add_field("tokens", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                         analyzer_params=ANALYZER, enable_match=True)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
        for field in ("issuing_body", "region", "doc_type", "script"):
            schema.add_field(field, DataType.VARCHAR, max_length=512)
        schema.add_field("year", DataType.INT64)
        schema.add_function(Function(name="tokens_bm25", function_type=FunctionType.BM25,
                                     input_field_names=["tokens"], output_field_names=["sparse"]))
        index = self.client.prepare_index_params()
        index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params=BM25_PARAMS)
        self.client.create_collection(collection, schema=schema, index_params=index)

    def _create_placeholder(self, collection: str, fields: dict[str, int]) -> None:
        """A collection of VARCHAR (max_length > 0) and INT64 (0) fields, the first one the key."""
        from pymilvus import DataType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        for i, (field, length) in enumerate(fields.items()):
            if length:
                schema.add_field(field, DataType.VARCHAR, max_length=length, is_primary=i == 0)
            else:
                schema.add_field(field, DataType.INT64)
        schema.add_field("placeholder", DataType.FLOAT_VECTOR, dim=len(PLACEHOLDER))
        index = self.client.prepare_index_params()
        index.add_index(field_name="placeholder", index_type="FLAT", metric_type="L2")
        self.client.create_collection(collection, schema=schema, index_params=index)

    @staticmethod
    def _passage_row(p: PassageRecord, vector: np.ndarray, documents: dict[str, DocumentRecord], generation: int) -> dict:
        doc = documents[p.doc_id]
        return {
            **passage_row(p), "row_id": f"{p.passage_id}@{generation}", "added": generation, "deleted": 0,
            "vector": vector.tolist(), "issuing_body": to_simplified(doc.issuing_body),
            "region": doc.region, "doc_type": doc.doc_type, "script": doc.script, "year": year_number(doc.year),
        }

    @staticmethod
    def _document_rows(doc: DocumentRecord, generation: int) -> list[dict]:
        record = document_row(doc, with_text=False)
        chunks = [doc.text[i : i + TEXT_CHUNK] for i in range(0, len(doc.text), TEXT_CHUNK)] or [""]
        return [
            {"row_id": f"{doc.doc_id}#{n}@{generation}", "doc_id": doc.doc_id, "chunk": n,
             "record": json.dumps(record, ensure_ascii=False) if n == 0 else "", "text": chunk, "added": generation,
             "deleted": 0, "placeholder": PLACEHOLDER}
            for n, chunk in enumerate(chunks)
        ]

    def _insert(self, collection: str, rows: list[dict]) -> None:
        for start in range(0, len(rows), INSERT_BATCH):
            self.client.insert(collection, rows[start : start + INSERT_BATCH])

    def _drop_old(self, keep: set[str | None]) -> None:
        """Drop every version but the new one and the one it replaced (KEEP_VERSIONS; readers may hold it).

        Kept by name, not by age: collections left by a publish killed before the switch never take the
        previous version's place.
        """
        shape = re.compile(rf"{re.escape(self.name)}_(v\d{{8}}_\d{{6}}_[0-9a-f]{{6}})(?:_docs)?")  # not another index's
        versions = sorted({m.group(1) for c in self.client.list_collections() if (m := shape.fullmatch(c))})
        for old in versions:
            if old not in keep:
                for collection in (f"{self.name}_{old}", f"{self.name}_{old}_docs"):
                    if self.client.has_collection(collection):
                        self.client.drop_collection(collection)

    # -- reading -----------------------------------------------------------------------------
    def rows(self, collection: str, fields: list[str], filter_expr: str = "") -> list[dict]:
        """Every row matching `filter_expr`, paged (Milvus caps one query's offset + limit)."""
        iterator = self.client.query_iterator(collection, batch_size=PAGE, filter=filter_expr, output_fields=fields)
        out: list[dict] = []
        try:
            while True:
                batch = iterator.next()
                if not batch:
                    return out
                out.extend(batch)
        finally:
            iterator.close()

    def load(self) -> tuple[list[DocumentRecord], list[PassageRecord], np.ndarray]:
        """The published version's documents, passages and vectors."""
        manifest = self.manifest()
        passages, vectors = self.version_passages(manifest, with_vectors=True)
        if vectors is None:
            vectors = np.zeros((0, manifest.model.dim), np.float32)
        return self.version_documents(manifest), passages, vectors

    def documents(self, with_text: bool = True) -> list[DocumentRecord]:
        """The published version's documents."""
        return self.version_documents(self.manifest(), with_text=with_text)

    def version_documents(self, manifest: Manifest, with_text: bool = True) -> list[DocumentRecord]:
        """The version's documents (text joined from its chunks), in stored order."""
        _, collection, seen = self.where(manifest)
        rows = self.rows(collection, ["doc_id", "chunk", "record"] + (["text"] if with_text else []), seen)
        records: dict[str, dict] = {}
        texts: dict[str, list[tuple[int, str]]] = {}
        for row in rows:
            doc_id = row["doc_id"].rsplit("#", 1)[0] if not manifest.generation else row["doc_id"]
            if row["chunk"] == 0:
                records[doc_id] = json.loads(row["record"])
            texts.setdefault(doc_id, []).append((row["chunk"], row.get("text", "")))
        return [
            document_from_row({**records[d], "text": "".join(t for _, t in sorted(texts[d]))}) for d in sorted(records)
        ]

    def version_passages(self, manifest: Manifest, with_vectors: bool = False, filter_expr: str = "") -> tuple[list[PassageRecord], np.ndarray]:
        """The version's passages in (doc_id, ordinal) order, and their vectors when asked for."""
        collection, _, seen = self.where(manifest)
        fields = list(PASSAGE_FIELDS) + (["vector"] if with_vectors else [])
        expr = " and ".join(e for e in (seen, filter_expr) if e)
        rows = sorted(self.rows(collection, fields, expr), key=lambda r: (r["doc_id"], r["ordinal"]))
        records = [passage_from_row(r) for r in rows]
        vectors = np.asarray([r["vector"] for r in rows], np.float32) if with_vectors and rows else None
        return records, vectors

    def document_vectors(self, doc_ids: list[str]) -> tuple[list[PassageRecord], np.ndarray]:
        """Some documents' passages and vectors in the published version."""
        manifest = self.manifest()
        if not doc_ids:
            return [], np.zeros((0, manifest.model.dim), np.float32)
        expr = f"doc_id in [{', '.join(json.dumps(d, ensure_ascii=False) for d in doc_ids)}]"
        passages, vectors = self.version_passages(manifest, with_vectors=True, filter_expr=expr)
        return passages, vectors if vectors is not None else np.zeros((0, manifest.model.dim), np.float32)
