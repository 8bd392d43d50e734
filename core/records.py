"""The records both sides share: documents, passages, a version's manifest, and their stored row form."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Mapping

from .model import ModelInfo

FORMAT_VERSION = 3  # 3: a version lists segments with tombstones; 2 (one folder of SQLite, FAISS, bm25s) still
# opens, and the first publish after it turns that folder into a segment without embedding anything again.
# A segment's dense form is its own manifest's `dense`, not this number: IVF-SQ8 segments say `rerank` and
# hold vectors.npy; IVF-fp16 and flat ones written before open as they were (the version layout is the same)
KEEP_VERSIONS = 2  # published versions kept: the current one and the one before it, for readers still holding it


@dataclass
class DocumentRecord:
    """A document as stored: cleaned original text and its metadata."""

    doc_id: str
    source: str
    name: str
    content_hash: str
    text: str
    title: str
    display_title: str
    issuing_body: str = ""
    region: str = ""
    year: str = ""
    doc_type: str = ""
    script: str = ""
    published: str = ""
    n_passages: int = 0


@dataclass
class PassageRecord:
    """A passage as stored; `match_text` is what BM25 and the encoder saw, `tokens` its jieba tokens."""

    passage_id: str
    doc_id: str
    ordinal: int
    start: int
    end: int
    heading_path: list[str]
    kind: str
    text: str
    match_text: str
    tokens: list[str] = field(default_factory=list)


DOCUMENT_FIELDS = tuple(f.name for f in fields(DocumentRecord))
PASSAGE_FIELDS = tuple(f.name for f in fields(PassageRecord))


def document_row(doc: DocumentRecord, with_text: bool = True) -> dict[str, Any]:
    """A document as a flat row (every backend stores these columns)."""
    row = asdict(doc)
    if not with_text:
        row.pop("text")
    return row


def document_from_row(row: Mapping[str, Any]) -> DocumentRecord:
    """A DocumentRecord from a row written by document_row (extra columns ignored)."""
    keys = set(row.keys())  # sqlite3.Row's `in` looks at values, not column names
    return DocumentRecord(**{k: row[k] for k in DOCUMENT_FIELDS if k in keys})


def passage_row(p: PassageRecord) -> dict[str, Any]:
    """A passage as a flat row: the heading path as JSON, the tokens joined by spaces."""
    row = asdict(p)
    row["heading_path"] = json.dumps(p.heading_path, ensure_ascii=False)
    row["tokens"] = " ".join(p.tokens)
    return row


def passage_from_row(row: Mapping[str, Any]) -> PassageRecord:
    """A PassageRecord from a row written by passage_row (extra columns such as `pos` ignored)."""
    data = {k: row[k] for k in PASSAGE_FIELDS}
    data["heading_path"] = json.loads(data["heading_path"])
    data["tokens"] = data["tokens"].split(" ") if data["tokens"] else []
    for key in ("ordinal", "start", "end"):
        data[key] = int(data[key])
    return PassageRecord(**data)


@dataclass(frozen=True)
class Manifest:
    """What a published version records about itself."""

    version: str
    model: ModelInfo
    documents: int
    passages: int
    created: float
    backend: str = "embedded"
    format: int = FORMAT_VERSION
    dense: dict = field(default_factory=dict)  # the dense index's kind and tuning (e.g. IVF nlist, nprobe)
    segments: list = field(default_factory=list)  # the embedded backend's segments (SegmentRef JSON), in order
    generation: int = 0  # the Milvus backend's published generation (rows added ≤ it, not deleted by it)

    def to_json(self) -> dict:
        """The JSON form written beside a version."""
        out = {"version": self.version, "model": self.model.to_json(), "documents": self.documents,
               "passages": self.passages, "created": self.created, "backend": self.backend,
               "format": self.format, "dense": dict(self.dense)}
        if self.segments:
            out["segments"] = list(self.segments)
        if self.generation:
            out["generation"] = self.generation
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Manifest":
        """Read what to_json wrote (older manifests lack `backend`)."""
        return cls(
            version=data["version"], model=ModelInfo.from_json(data["model"]), documents=int(data["documents"]),
            passages=int(data["passages"]), created=float(data.get("created", 0.0)),
            backend=data.get("backend", "embedded"), format=int(data.get("format", 2)),
            dense=dict(data.get("dense", {})), segments=list(data.get("segments", [])),
            generation=int(data.get("generation", 0)),
        )
