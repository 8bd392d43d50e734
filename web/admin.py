"""Admin endpoints that change the index: upload, delete, re-index. Registered only with an admin token.

Uploads and the index agree: the writer lock is taken before a file is stored, a file is written to a temp
name, fsynced and renamed, and it counts as uploaded only once its index version is published (the
`ACKED` list). A refused, failed or crash-cut upload leaves nothing that a later re-index would pick up;
deleting a document removes its upload; uploading the same name again replaces it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import tempfile
import unicodedata
from pathlib import Path

from flask import jsonify, request
from flask_openapi3 import APIBlueprint, FileStorage, Tag
from pydantic import BaseModel

from core.errors import NotFoundError
from indexer.pipeline import IndexSummary, delete_documents, index_paths, list_documents
from indexer.sources import SUPPORTED_SUFFIXES

from .context import get_engine, index_storage, settings
from .contract import ErrorResponse, Strict
from .errors import error_response

bp = APIBlueprint("admin", __name__, url_prefix="/api/admin", abp_tags=[Tag(name="admin")],
                  abp_security=[{"bearer": []}],
                  abp_responses={400: ErrorResponse, 401: ErrorResponse, 405: ErrorResponse, 409: ErrorResponse,
                                 413: ErrorResponse, 503: ErrorResponse})
ACKED = ".acked.json"  # name → sha256 of every upload whose index version was published
MAX_NAME_BYTES = 180  # a stored upload name, in UTF-8 bytes (file systems allow 255; room for temp prefixes)


class UploadForm(BaseModel):
    """multipart/form-data with the report in field `file`."""

    file: FileStorage


class DocIdPath(Strict):
    """A document id in the path."""

    doc_id: str


class RunSummary(BaseModel):
    """What an indexing run did."""

    added: list[str]
    updated: list[str]
    removed: list[str]
    unchanged: int
    duplicates: list[str]
    skipped: list[str]
    moved: list[str]
    warnings: list[str]
    documents: int
    passages: int
    version: str


@bp.before_request
def _require_token():
    """Every admin request carries `Authorization: Bearer <token>`; anything else is a 401 (before any body is read)."""
    given = request.headers.get("Authorization", "")
    expected = "Bearer " + settings().admin_token
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return error_response(401, "admin token missing or wrong (send 'Authorization: Bearer <token>')")
    return None


def upload_dir() -> Path:
    """The folder of uploaded reports (the settings', else uploads/ in the index folder)."""
    folder = Path(settings().upload_dir or Path(settings().index) / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def safe_name(filename: str) -> str:
    """An upload's stored name: no folders, control characters or leading dots, at most MAX_NAME_BYTES."""
    name = unicodedata.normalize("NFC", filename.replace("\\", "/").rsplit("/", 1)[-1])
    name = re.sub(r"[\x00-\x1f\x7f#]", "_", name).lstrip(". ") or "upload.txt"
    stem, suffix = os.path.splitext(name)
    while len((stem + suffix).encode("utf-8", "replace")) > MAX_NAME_BYTES and stem:
        stem = stem[:-1]
    return (stem or "upload") + suffix


def public(message: str) -> str:
    """A message without the server's own folders in it."""
    for folder in {str(upload_dir().resolve()), str(upload_dir()), str(Path(settings().index).resolve())}:
        message = message.replace(folder + os.sep, "").replace(folder, "")
    return message


def read_acked(folder: Path) -> dict[str, str]:
    """The uploads whose index version was published."""
    try:
        return json.loads((folder / ACKED).read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file by temp file, fsync and rename, then fsync its folder."""
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def write_acked(folder: Path, acked: dict[str, str]) -> None:
    """Record the acknowledged uploads."""
    write_atomic(folder / ACKED, json.dumps(acked, ensure_ascii=False, indent=1).encode("utf-8"))


def tidy_uploads(folder: Path) -> None:
    """Drop what no acknowledged upload accounts for: temp files, crash-cut uploads, replaced originals.

    A replaced original (`.orig-NAME`) whose hash is the acknowledged one goes back in place: a crash came
    between storing the new file and publishing its version.
    """
    acked = read_acked(folder)
    for path in folder.iterdir():
        if not path.is_file() or path.name == ACKED:
            continue
        if path.name.startswith(".orig-"):
            name = path.name[len(".orig-"):]
            if acked.get(name) == _sha(path.read_bytes()):
                os.replace(path, folder / name)
            else:
                path.unlink()
        elif path.name.startswith(".tmp-"):
            path.unlink()
    for path in folder.iterdir():
        if path.is_file() and not path.name.startswith(".") and acked.get(path.name) != _sha(path.read_bytes()):
            path.unlink()  # stored but never acknowledged (refused, failed or cut off by a crash)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _summary(summary: IndexSummary) -> dict:
    return RunSummary(
        added=[public(a) for a in summary.added], updated=[public(u) for u in summary.updated],
        removed=[public(r) for r in summary.removed], unchanged=len(summary.unchanged),
        duplicates=[public(d) for d in summary.duplicates], skipped=[public(s) for s in summary.skipped],
        moved=[public(m) for m in summary.moved], warnings=[public(w) for w in summary.warnings],
        documents=summary.documents, passages=summary.passages, version=summary.version,
    ).model_dump()


@bp.post("/documents", responses={200: RunSummary})
def upload(form: UploadForm):
    """Upload one report (multipart field 'file') and index it; answers the run's summary."""
    upload = form.file
    if not upload.filename:
        return error_response(400, "send the report as multipart form field 'file'")
    name = safe_name(upload.filename)
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        return error_response(400, f"unsupported file type {Path(name).suffix or '(none)'}; "
                                   f"use {', '.join(SUPPORTED_SUFFIXES)}")
    data = upload.read()
    if not data:
        return error_response(400, "the uploaded file is empty")
    engine = get_engine()
    with index_storage().writer_lock():  # before anything is stored: a 409 leaves nothing behind
        folder = upload_dir()
        tidy_uploads(folder)
        target, original = folder / name, folder / f".orig-{name}"
        if target.exists():
            os.replace(target, original)
        try:
            write_atomic(target, data)
            summary = index_paths([target], index_storage(), encoder=engine.encoder)
        except BaseException:
            _restore(target, original)
            raise
        if summary.skipped and not (summary.added or summary.updated or summary.unchanged or summary.duplicates):
            _restore(target, original)
            return error_response(400, public(summary.skipped[0]))
        acked = read_acked(folder)
        acked[name] = _sha(data)
        write_acked(folder, acked)
        original.unlink(missing_ok=True)
    return jsonify(_summary(summary))


def _restore(target: Path, original: Path) -> None:
    """Undo a refused or failed upload: the earlier file of that name comes back, or nothing stays."""
    if original.exists():
        os.replace(original, target)
    else:
        target.unlink(missing_ok=True)


@bp.delete("/documents/<doc_id>", responses={200: {"description": "the removed sources"}, 404: ErrorResponse})
def delete(path: DocIdPath):
    """Remove one document from the index, and its upload when it was one."""
    with index_storage().writer_lock():
        folder = upload_dir()
        docs = {d.doc_id: d for d in list_documents(index_storage())}
        if path.doc_id not in docs:
            raise NotFoundError(f"no document {path.doc_id!r} in the index")
        removed = delete_documents(index_storage(), [path.doc_id])
        source = Path(docs[path.doc_id].source.partition("#")[0])
        if source.parent.resolve() == folder.resolve():
            acked = read_acked(folder)
            acked.pop(source.name, None)
            write_acked(folder, acked)
            source.unlink(missing_ok=True)
    return jsonify({"removed": [public(r) for r in removed]})


@bp.post("/reindex", responses={200: RunSummary})
def reindex():
    """Re-index the acknowledged uploads and the configured data folders (REINDEX_PATHS), pruning vanished files."""
    with index_storage().writer_lock():
        folder = upload_dir()
        tidy_uploads(folder)
        paths = [Path(p) for p in settings().reindex_paths] + [folder]
        summary = index_paths(paths, index_storage(), encoder=get_engine().encoder, prune=True)
    return jsonify(_summary(summary))
