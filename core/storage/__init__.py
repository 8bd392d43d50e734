"""Where an index lives, behind one seam: each backend is a storage and its reader, in one subpackage.

- `embedded/`: a folder of immutable segments (SQLite, FAISS, postings) listed by versions, behind CURRENT.
- `milvus/`: collections in a Milvus 2.5+ server or Milvus Lite whose rows carry generations, behind a meta row.
A third backend is a third subpackage with a storage class that satisfies `IndexStorage` (its
`open_reader` returns an `IndexReader`), and one line in `_BACKENDS`.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

from ..settings import BACKENDS, Settings
from .base import IndexReader, IndexStorage

__all__ = ["BACKENDS", "IndexReader", "IndexStorage", "open_storage", "prepare_retrieval_thread"]

# backend name → (module, class); imported only when chosen, so pymilvus stays optional
_BACKENDS = {"embedded": ("core.storage.embedded", "EmbeddedStorage"), "milvus": ("core.storage.milvus", "MilvusStorage")}
assert tuple(_BACKENDS) == BACKENDS


def open_storage(where: "IndexStorage | Settings | Path | str") -> IndexStorage:
    """The storage the settings name; a folder path means the embedded backend; a storage is returned as is."""
    if isinstance(where, (str, Path)):
        where = Settings(index=str(where))
    if not isinstance(where, Settings):
        return where
    module, name = _BACKENDS[where.backend]
    return getattr(import_module(module), name).from_settings(where)


def prepare_retrieval_thread() -> None:
    """Readies a worker thread that will run readers' retrieval (an initializer for the engine's pool): the
    embedded backend's FAISS gets one OpenMP thread there; a reader of another backend never overlaps."""
    from .embedded.dense import one_omp_thread

    one_omp_thread()
