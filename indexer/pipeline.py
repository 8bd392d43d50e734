"""index(paths, index): read → clean → structure → embed → publish, reusing unchanged work (any backend)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from core.boilerplate import strip_boilerplate
from core.errors import IndexNotFoundError
from core.model import Encoder, check_model
from core.records import DocumentRecord, PassageRecord
from core.settings import Settings
from core.storage import IndexStorage, open_storage
from core.storage.base import IndexChanges
from core.textform import matching_form, tokenize

from .clean import clean_text
from .metadata import extract_metadata
from .sources import (
    RawDocument, SourceError, discover_keyed, display_path, doc_id_for, read_file, source_for, source_exists,
    split_source, without_surrogates,
)
from .structure import parse_passages


@dataclass
class IndexSummary:
    """What one indexing run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # "path: reason"
    moved: list[str] = field(default_factory=list)  # "old source → new source", same id and vectors
    warnings: list[str] = field(default_factory=list)  # "path: what was repaired" (the document was indexed)
    documents: int = 0
    passages: int = 0
    embedded: int = 0
    seconds: float = 0.0
    version: str = ""

    def lines(self) -> list[str]:
        """Human-readable report of the run."""
        out = [
            f"documents: {len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {len(self.duplicates)} duplicate, {len(self.skipped)} skipped"
            + (f", {len(self.moved)} moved" if self.moved else ""),
            f"index: {self.documents} documents, {self.passages} passages ({self.embedded} embedded this run) "
            f"in {self.seconds:.1f}s" + (f", version {self.version}" if self.version else ", nothing changed"),
        ]
        out += [f"  moved: {m}" for m in self.moved]
        out += [f"  removed: {r}" for r in self.removed]
        out += [f"  duplicate: {d}" for d in self.duplicates]
        out += [f"  skipped: {s}" for s in self.skipped]
        out += [f"  warning: {w}" for w in self.warnings]
        return out


def content_hash(raw: RawDocument) -> str:
    """Hash of a document's text, title and metadata overrides, for change detection and de-duplication.

    Two laws can share an article's wording (合同法 and 民法典); with different titles they are
    different documents, and so are JSONL lines with ids of their own. Identical files without
    distinguishing metadata are one document, and editing a sidecar counts as a change.
    """
    meta = json.dumps(raw.meta, ensure_ascii=False, sort_keys=True, default=str)
    key = f"{raw.record_id}\x00{raw.title}\x00{meta}\x00{raw.text}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def display_title(meta, name: str) -> str:
    """The document's title, or a label built from what is known of it, or its file name."""
    if meta.title:
        return meta.title
    kind = {"年度报告": "年度报告", "工作要点": "工作要点", "法规": "法规"}.get(meta.doc_type, "")
    year = f"{meta.year}年" if meta.year else ""
    if year and kind == "年度报告":
        year, kind = f"{meta.year}年度", "报告"
    label = meta.issuing_body + year + kind
    return label or name


def passage_context(heading_path: list[str], kind: str, title: str, body: str) -> list[str]:
    """What a passage means beyond its own words, to match and embed with it.

    Its heading; and the document title where the passage has no heading or is an article of a law
    (a law's name says what its article is about). Nothing the body already starts with.
    """
    context = []
    if title and (kind == "article" or not heading_path):
        context.append(title)
    if heading_path:
        context.append(heading_path[-1])
    return [c for c in context if not body.startswith(c)]


def build_document(raw: RawDocument) -> tuple[DocumentRecord, list[PassageRecord]]:
    """Clean, structure and describe one document (no embedding)."""
    text = clean_text(raw.text)
    meta = extract_metadata(text, raw.title, raw.text).merged(raw.meta)
    passages = []
    for ordinal, span in enumerate(parse_passages(text)):
        body = text[span.start : span.end]
        indexed = "\n".join(passage_context(span.heading_path, span.kind, meta.title, body) + [body])
        match = strip_boilerplate(matching_form(indexed))
        passages.append(PassageRecord(
            passage_id=f"{raw.doc_id}-{ordinal:04d}", doc_id=raw.doc_id, ordinal=ordinal,
            start=span.start, end=span.end, heading_path=span.heading_path, kind=span.kind, text=body,
            match_text=match, tokens=tokenize(match),
        ))
    doc = DocumentRecord(
        doc_id=raw.doc_id, source=raw.source, name=raw.name, content_hash=content_hash(raw), text=text,
        title=meta.title, display_title=display_title(meta, raw.name), issuing_body=meta.issuing_body,
        region=meta.region, year=meta.year, doc_type=meta.doc_type, script=meta.script, published=meta.published,
        n_passages=len(passages),
    )
    return doc, passages


EMBED_CHUNK = 128  # passages per encoder call (length-sorted), so the progress bar moves and memory stays flat


def index_paths(
    paths: list[Path], index_dir: Path | IndexStorage | Settings, encoder: Encoder | None = None,
    settings: Settings | None = None, progress: Callable[[str], None] | None = None, prune: bool = False, show_progress: bool = False,
    rebuild: bool = False,
) -> IndexSummary:
    """Add or update the documents under `paths` in the index at `index_dir`; others are kept.

    With `prune`, documents whose file is gone (or whose JSONL line is gone from a file read in this
    run) are removed. Unchanged documents keep their vectors; a changed one re-embeds only passages
    whose text is new. A document found at another place (folder moved, file renamed) keeps its id and
    vectors and is reported as moved. A file or document that can't be read or built is a skip.

    With `rebuild`, documents whose text did not change are cleaned and split again too (after an upgrade
    changed how), keeping their ids; only passages whose text is new are embedded.
    """
    from tqdm import tqdm

    started = time.time()
    storage = open_storage(index_dir)
    say = progress or (lambda _msg: None)
    summary = IndexSummary()
    with storage.writer_lock():
        encoder = encoder or Encoder.from_settings(settings or Settings())
        old_docs = _previous(storage, encoder)
        files, errors = discover_keyed([Path(p) for p in paths])
        summary.skipped += [_printable(str(e)) for e in errors]

        raws: list[RawDocument] = []
        read_files: set[str] = set()
        for path, key in tqdm(files, desc="reading", unit="file", disable=not show_progress, leave=False):
            try:
                located = source_for(path)
                if located in read_files:  # the same file under two of the paths given (data/ and data/sub/)
                    continue
                read_files.add(located)
                for item in read_file(path, key):
                    if isinstance(item, SourceError):
                        summary.skipped.append(_printable(str(item)))
                    else:
                        raws.append(item)
            except Exception as exc:  # noqa: BLE001 - one unreadable file is a skip, never the end of the run
                summary.skipped.append(_printable(f"{display_path(path)}: could not be read ({type(exc).__name__}: {exc})"))
        say(f"{len(files)} files read")
        indexed_passages = (lambda doc_id: storage.document_vectors([doc_id])[0]) if rebuild else None
        docs, passages = _place_documents(raws, old_docs, read_files, prune, summary, indexed_passages)

        if not (summary.added or summary.updated or summary.removed or summary.moved):
            summary.documents = len(docs)
            summary.passages = storage.manifest().passages if old_docs else 0
            summary.seconds = time.time() - started
            return summary

        # Only what changed is embedded and published: the built documents (new, changed, moved) and the
        # removed ones; every other document stays where the published version has it.
        built = sorted((docs[d] for d in passages), key=lambda d: (d.name, d.doc_id))
        new_passages = [p for d in built for p in passages[d.doc_id]]
        old_ids = {d.doc_id for d in old_docs}
        removed = sorted(old_ids - set(docs))
        reused_passages, reused_vectors = storage.document_vectors([d.doc_id for d in built if d.doc_id in old_ids]) \
            if old_docs else ([], None)
        reusable = {p.match_text: i for i, p in enumerate(reused_passages)}
        vectors = np.zeros((len(new_passages), encoder.dim), np.float32)
        to_embed = []
        for i, p in enumerate(new_passages):
            j = reusable.get(p.match_text)
            if j is not None:
                vectors[i] = reused_vectors[j]
            else:
                to_embed.append(i)
        say(f"embedding {len(to_embed)} passages")
        to_embed.sort(key=lambda i: len(new_passages[i].match_text))  # similar lengths batch with little padding
        with tqdm(total=len(to_embed), desc="embedding", unit="passage", disable=not show_progress) as bar:
            for start in range(0, len(to_embed), EMBED_CHUNK):
                chunk = to_embed[start : start + EMBED_CHUNK]
                vectors[chunk] = encoder.encode_passages([new_passages[i].match_text for i in chunk])
                bar.update(len(chunk))
        if old_docs:
            version = storage.publish_changes(IndexChanges(built, new_passages, vectors, removed), encoder.info)
            version = storage.merge_if_due() or version
        else:
            version = storage.publish(built, new_passages, vectors, encoder.info)
        summary.embedded = len(to_embed)
        summary.documents, summary.passages = len(docs), storage.manifest().passages
        summary.version = version
    summary.seconds = time.time() - started
    return summary


def _is_gone(source: str, read_files: set[str], read_sources: set[str]) -> bool:
    """True when a document's file no longer exists, or its JSONL line vanished from a file just read."""
    if source in read_sources:
        return False
    path, key = split_source(source)
    if key and path in read_files:
        return not source_exists(source, whole=True)  # its JSONL file was read, without this line
    return not source_exists(source)


def _printable(text: str) -> str:
    """A message that can be printed and stored whatever bytes went into it."""
    return without_surrogates(text)[0]


def delete_documents(index_dir: Path | IndexStorage | Settings, doc_ids: list[str]) -> list[str]:
    """Remove documents by id (no model needed); returns the sources removed. Unknown ids raise KeyError.

    Only tombstones are written (a merge may follow when they pile up)."""
    storage = open_storage(index_dir)
    with storage.writer_lock():
        manifest = storage.manifest()
        docs = storage.documents(with_text=False)
        known = {d.doc_id for d in docs}
        unknown = [d for d in doc_ids if d not in known]
        if unknown:
            raise KeyError(f"no document {', '.join(unknown)} in {storage.location}")
        storage.publish_changes(IndexChanges(removed=sorted(set(doc_ids))), manifest.model)
        storage.merge_if_due()
        return [d.source for d in docs if d.doc_id in doc_ids]


def list_documents(index_dir: Path | IndexStorage | Settings) -> list[DocumentRecord]:
    """The documents of the published index."""
    return open_storage(index_dir).documents()


def _place_documents(
    raws: list[RawDocument], old_docs: list[DocumentRecord], read_files: set[str], prune: bool, summary: IndexSummary,
    indexed_passages: Callable[[str], list[PassageRecord]] | None = None,
) -> tuple[dict[str, DocumentRecord], dict[str, list[PassageRecord]]]:
    """The next version's documents: each read document matched to the one it was, duplicates judged
    against what survives the run.

    A read document is the indexed one with the same source; else, when that one's file is gone, the one
    with its key's id (the corpus folder moved) or with its content (a file moved or renamed, a copy whose
    original was deleted). A match keeps its id and vectors; a move is reported as "old → new". Only
    documents new to the index get a fresh id, from their key. The passages returned are those of the
    documents built this run (new, changed, moved): the rest stay as published.
    """
    docs: dict[str, DocumentRecord] = {d.doc_id: d for d in old_docs}
    passages: dict[str, list[PassageRecord]] = {}
    read_sources = {raw.source for raw in raws}
    gone = {d.doc_id for d in old_docs if _is_gone(d.source, read_files, read_sources)}

    claims: dict[int, DocumentRecord] = {}  # position in raws → the indexed document it is
    claimed: set[str] = set()
    by_source = {d.source: d for d in old_docs}
    for i, raw in enumerate(raws):
        old = by_source.get(raw.source)
        if old is not None and old.doc_id not in claimed:
            claims[i] = old
            claimed.add(old.doc_id)
    for i, raw in enumerate(raws):
        old = docs.get(raw.doc_id)
        if i not in claims and old is not None and old.doc_id in gone and old.doc_id not in claimed:
            claims[i] = old
            claimed.add(old.doc_id)
    gone_by_hash: dict[str, list[DocumentRecord]] = {}
    for d in old_docs:
        if d.doc_id in gone and d.doc_id not in claimed:
            gone_by_hash.setdefault(d.content_hash, []).append(d)
    hashes = [content_hash(raw) for raw in raws]
    for i, raw in enumerate(raws):
        candidates = [d for d in gone_by_hash.get(hashes[i], []) if d.doc_id not in claimed]
        if i not in claims and candidates:
            claims[i] = candidates[0]
            claimed.add(candidates[0].doc_id)

    if prune:
        for d in old_docs:
            if d.doc_id in gone and d.doc_id not in claimed:
                summary.removed.append(d.source)
                del docs[d.doc_id]
                passages.pop(d.doc_id, None)
    # what survives: documents not read this run stay as they are; they and the read ones hold their text
    seen = {d.content_hash: d for d in docs.values() if d.doc_id not in claimed}
    order = sorted(range(len(raws)), key=lambda i: i not in claims)  # documents already indexed first
    for i in order:
        raw, digest, old = raws[i], hashes[i], claims.get(i)
        summary.warnings += [_printable(w) for w in raw.warnings]
        holder = seen.get(digest)
        if holder is not None and (old is None or holder.doc_id != old.doc_id):
            summary.duplicates.append(_printable(f"{raw.source} (same text as {holder.source})"))
            continue
        if old is not None:
            doc_id = old.doc_id
        else:
            doc_id = raw.doc_id
            if doc_id in docs:  # the same key under another folder given to this or an earlier run
                doc_id = doc_id_for(f"{raw.key}\x00{raw.source}")
        placed = _build(dataclasses.replace(raw, doc_id=doc_id), digest, old, docs, passages, summary,
                        indexed_passages)
        if placed is not None:
            seen[digest] = placed
    return docs, passages


def _build(
    raw: RawDocument, digest: str, old: DocumentRecord | None, docs: dict[str, DocumentRecord],
    passages: dict[str, list[PassageRecord]], summary: IndexSummary,
    indexed_passages: Callable[[str], list[PassageRecord]] | None = None,
) -> DocumentRecord | None:
    """Build one document into the next version, recording what happened; any failure is a skip.

    `indexed_passages` (a rebuild): an unchanged document is built again, and kept as it is when that gives
    the passages the index holds."""
    same = old is not None and old.content_hash == digest and old.source == raw.source
    if same and indexed_passages is None:
        summary.unchanged.append(raw.source)
        return old
    try:
        doc, doc_passages = build_document(raw)
        _check_storable(doc, doc_passages)
    except Exception as exc:  # noqa: BLE001 - one document that can't be built is a skip, never the end of the run
        summary.skipped.append(_printable(f"{raw.source}: could not be indexed ({type(exc).__name__}: {exc})"))
        return None
    if not doc_passages:
        summary.skipped.append(_printable(f"{raw.source}: no indexable text after cleaning"))
        return None
    if same and _same_build(old, indexed_passages(old.doc_id), doc, doc_passages):
        summary.unchanged.append(raw.source)  # rebuilt to what it was
        return old
    docs[doc.doc_id] = doc
    passages[doc.doc_id] = doc_passages
    if old is None:
        summary.added.append(raw.source)
        return doc
    if old.source != raw.source:
        summary.moved.append(f"{old.source} → {raw.source}")
    if old.content_hash != digest or same:  # same: rebuilt, and its cleaning or splitting changed
        summary.updated.append(raw.source)
    return doc


def _same_build(old: DocumentRecord, old_passages: list[PassageRecord], doc: DocumentRecord,
                doc_passages: list[PassageRecord]) -> bool:
    """True when building a document again gave what the index holds (its metadata and passages)."""
    def fields(d: DocumentRecord) -> tuple:
        return (d.title, d.display_title, d.issuing_body, d.region, d.year, d.doc_type, d.script)

    def spans(ps: list[PassageRecord]) -> list[tuple]:
        return [(p.start, p.end, tuple(p.heading_path), p.kind, p.match_text) for p in ps]

    return fields(old) == fields(doc) and spans(old_passages) == spans(doc_passages)


def _check_storable(doc: DocumentRecord, doc_passages: list[PassageRecord]) -> None:
    """Raise ValueError for text no UTF-8 database can hold, before it can fail a whole publish."""
    for value in [doc.source, doc.name, doc.text, doc.title, doc.display_title, doc.issuing_body, doc.region,
                  doc.year, doc.published, doc.doc_type] + [p.match_text for p in doc_passages]:
        value.encode("utf-8")


def _previous(storage: IndexStorage, encoder: Encoder) -> list[DocumentRecord]:
    """The published version's documents, without their texts (empty for a new index)."""
    try:
        manifest = storage.manifest()
    except IndexNotFoundError:
        return []
    check_model(manifest.model, encoder.info, storage.location)
    return storage.documents(with_text=False)
