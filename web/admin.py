"""Admin endpoints that change the index: upload, delete, re-index. Registered only with an admin token."""

from __future__ import annotations

import hashlib
import hmac
import re
from pathlib import Path

from flask import Blueprint, jsonify, request

from core.errors import IndexBusyError
from indexer.pipeline import delete_documents, index_paths
from indexer.sources import SUPPORTED_SUFFIXES

from .context import get_engine, index_storage, settings

bp = Blueprint("admin", __name__, url_prefix="/api/admin")


def _error(status: int, message: str):
    return jsonify({"error": {"status": status, "message": message}}), status


@bp.before_request
def _require_token():
    """Every admin request carries `Authorization: Bearer <token>`; anything else is a 401."""
    given = request.headers.get("Authorization", "")
    expected = "Bearer " + settings().admin_token
    if not hmac.compare_digest(given.encode(), expected.encode()):
        return _error(401, "admin token missing or wrong (send 'Authorization: Bearer <token>')")
    return None


def _upload_dir() -> Path:
    folder = Path(settings().upload_dir or Path(settings().index) / "uploads")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _summary(summary) -> dict:
    return {"added": summary.added, "updated": summary.updated, "removed": summary.removed,
            "unchanged": len(summary.unchanged), "duplicates": summary.duplicates, "skipped": summary.skipped,
            "documents": summary.documents, "passages": summary.passages, "version": summary.version}


@bp.post("/documents")
def upload():
    """Upload one report (multipart field 'file') and index it; answers the run's summary."""
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _error(400, "send the report as multipart form field 'file'")
    name = re.sub(r"[\\/\x00-\x1f]", "_", Path(upload.filename).name).lstrip(".") or "upload.txt"
    if Path(name).suffix.lower() not in SUPPORTED_SUFFIXES:
        return _error(400, f"unsupported file type {Path(name).suffix or '(none)'}; use {', '.join(SUPPORTED_SUFFIXES)}")
    data = upload.read()
    if not data:
        return _error(400, "the uploaded file is empty")
    target = _upload_dir() / f"{hashlib.sha1(data).hexdigest()[:10]}-{name}"
    target.write_bytes(data)
    summary = index_paths([target], index_storage(), encoder=get_engine().encoder)
    if summary.skipped and not (summary.added or summary.updated or summary.duplicates):
        target.unlink(missing_ok=True)
        return _error(400, summary.skipped[0])
    return jsonify(_summary(summary))


@bp.delete("/documents/<doc_id>")
def delete(doc_id: str):
    """Remove one document from the index."""
    try:
        removed = delete_documents(index_storage(), [doc_id])
    except KeyError as exc:
        return _error(404, str(exc.args[0]))
    return jsonify({"removed": removed})


@bp.post("/reindex")
def reindex():
    """Re-index the uploads folder and the configured data folders (REINDEX_PATHS), pruning vanished files."""
    paths = [Path(p) for p in settings().reindex_paths] + [_upload_dir()]
    summary = index_paths(paths, index_storage(), encoder=get_engine().encoder, prune=True)
    return jsonify(_summary(summary))


@bp.errorhandler(IndexBusyError)
def _busy(exc: IndexBusyError):
    return _error(409, str(exc))
