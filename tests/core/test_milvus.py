"""The Milvus backend against Milvus Lite: in-process (.db path) and as `milvus-lite server` (URI), parity
with the embedded backend, filters as expressions, grouping, records, deletes and the CLI."""

from core.settings import Settings
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pymilvus", reason="pymilvus is not installed (pip install 'fazhi-search[milvus]')")
pytest.importorskip("milvus_lite", reason="Milvus Lite is not installed (pip install 'milvus-lite[chinese]')")

from core.storage import open_storage  # noqa: E402
from core.errors import ModelMismatchError
from indexer.pipeline import delete_documents, index_paths, list_documents  # noqa: E402
from search.engine import SearchEngine  # noqa: E402
from search.filters import Filters  # noqa: E402
from core.storage.milvus.reader import filter_expression  # noqa: E402
from tests.conftest import DATA, SEEDS, copy_seeds  # noqa: E402
from tests.fakes import HashEncoder  # noqa: E402

pytestmark = pytest.mark.milvus

QUERIES = ["法律顾问", "公平竞争审查", "行政执法全过程记录", "12345热线", "法律顧問", "合法性审查", "普法宣传",
           "重大行政决策", "行政复议", "规范性文件备案审查", "双随机一公开", "政务公开"]


def milvus_storage(uri: str, name: str = "fazhi"):
    """A Milvus storage, or a skip naming why Lite cannot serve here (e.g. its jieba extra is missing)."""
    try:
        return open_storage(Settings(backend="milvus", milvus_uri=uri, milvus_collection=name))
    except RuntimeError as exc:
        pytest.skip(f"Milvus Lite cannot start here: {exc}")


def same_positions(a: SearchEngine, b: SearchEngine, queries, **kwargs) -> float:
    same = total = 0
    for q in queries:
        x = [h.passage_id for h in a.search(q, k=10, **kwargs).hits]
        y = [h.passage_id for h in b.search(q, k=10, **kwargs).hits]
        same += sum(i == j for i, j in zip(x, y))
        total += max(len(x), len(y))
    return same / total


@pytest.fixture(scope="module")
def hash_pair(tmp_path_factory):
    """The seeds in the embedded backend and in Lite (.db path), with the deterministic test encoder."""
    folder = tmp_path_factory.mktemp("milvus-pair")
    encoder = HashEncoder()
    storage = milvus_storage(str(folder / "lite.db"))
    try:
        index_paths([DATA], storage, encoder=encoder)
    except Exception as exc:  # noqa: BLE001 - e.g. the jieba analyzer unavailable in this Lite build
        pytest.skip(f"Milvus Lite cannot build the collection here: {exc}")
    index_paths([DATA], folder / "embedded", encoder=encoder)
    return SearchEngine(folder / "embedded", encoder=encoder), SearchEngine(storage, encoder=encoder), storage


def test_seeds_rank_the_same_in_both_backends(hash_pair):
    embedded, milvus, _ = hash_pair
    assert milvus.health()["passages"] == embedded.health()["passages"] == 165
    assert same_positions(embedded, milvus, QUERIES) >= 0.9
    assert same_positions(embedded, milvus, QUERIES, mode="dense") == 1.0
    assert same_positions(embedded, milvus, QUERIES, mode="bm25") >= 0.9


def test_filters_become_milvus_expressions():
    expr = filter_expression(Filters(issuing_body=("廣州市人民政府",), region=("广东省", "50%_off"),
                                     year_from=2019, year_to=2020), exclude_doc="abc")
    assert 'issuing_body in ["广州市人民政府"]' in expr  # t2s, as the embedded filter compares
    assert 'region like "广东省%"' in expr and r'region like "50\\%\\_off%"' in expr
    assert "year >= 0 and year >= 2019 and year <= 2020" in expr and 'doc_id != "abc"' in expr
    assert filter_expression(Filters()) == ""


@pytest.mark.parametrize("filters", [
    Filters(script=("traditional",)), Filters(region=("广东省广州市",)), Filters(year_from=2020),
    Filters(doc_type=("工作要点",)), Filters(issuing_body=("广州市工业和信息化局",)),
])
def test_filtered_results_and_facets_match_embedded(hash_pair, filters):
    embedded, milvus, _ = hash_pair
    a = embedded.search("法治政府建设", k=10, filters=filters)
    b = milvus.search("法治政府建设", k=10, filters=filters)
    assert [h.passage_id for h in a.hits] == [h.passage_id for h in b.hits]
    assert a.facets == b.facets
    docs = {d["doc_id"]: d for d in milvus.documents()}
    assert all(filters.admits(milvus._state.documents[h.doc_id]) for h in b.hits) and docs


def test_dense_grouping_per_document(hash_pair):
    embedded, milvus, _ = hash_pair
    # the backend's own grouping, so no match cut (the hash encoder's neighbours mostly match nothing)
    hits = milvus.search("法律顾问", k=5, per_doc=1, mode="dense", min_match="any").hits
    assert len({h.doc_id for h in hits}) == len(hits) == 5
    assert [h.passage_id for h in hits] == [h.passage_id for h in embedded.search(
        "法律顾问", k=5, per_doc=1, mode="dense", min_match="any").hits]
    cut = milvus.search("法律顾问", k=5, per_doc=1, mode="dense").hits  # the levels agree across backends
    assert [(h.passage_id, h.match) for h in cut] == [(h.passage_id, h.match) for h in embedded.search(
        "法律顾问", k=5, per_doc=1, mode="dense").hits]


def test_records_similar_and_documents_match_embedded(hash_pair):
    embedded, milvus, _ = hash_pair
    pid = embedded.search("公平竞争审查", k=1).hits[0].passage_id
    assert milvus.passage(pid) == embedded.passage(pid)
    doc_id = milvus.passage(pid)["doc_id"]
    assert milvus.document(doc_id) == embedded.document(doc_id)  # full text rebuilt from its chunks
    similar = milvus.similar(passage_id=pid, k=5)
    assert similar.hits and all(h.doc_id != doc_id for h in similar.hits)
    assert [h.passage_id for h in similar.hits] == [h.passage_id for h in embedded.similar(passage_id=pid, k=5).hits]
    assert sorted(d["doc_id"] for d in milvus.documents()) == sorted(d["doc_id"] for d in embedded.documents())


def test_reindex_delete_and_live_switch(tmp_path):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019", "jm_ict_2024")
    storage = milvus_storage(str(tmp_path / "lite.db"), "reindex")
    encoder = HashEncoder()
    index_paths([corpus], storage, encoder=encoder)
    engine = SearchEngine(storage, encoder=encoder)
    first = engine.health()["version"]
    again = index_paths([corpus], storage, encoder=encoder)
    assert len(again.unchanged) == 2 and again.version == ""  # nothing changed, nothing published
    target = corpus / SEEDS["jm_ict_2024"]
    target.write_text(target.read_text(encoding="utf-8") + "\n（五）新增措施。建立行政执法案卷评查制度，每年组织一次全面评查。",
                      encoding="utf-8")
    before = encoder.encoded
    summary = index_paths([corpus], storage, encoder=encoder)
    assert summary.updated and 1 <= encoder.encoded - before <= 2  # vectors read back from Milvus were reused
    assert any("案卷评查制度" in h.text for h in SearchEngine(storage, encoder=encoder).search("案卷评查", k=3).hits)
    assert engine.refresh() and engine.health()["version"] != first
    doc_id = next(d.doc_id for d in list_documents(storage) if d.name == SEEDS["jm_ict_2024"])
    delete_documents(storage, [doc_id])
    assert engine.refresh() and [d.doc_id for d in list_documents(storage)] != [doc_id]
    assert all(h.doc_id != doc_id for h in engine.search("法律顾问", k=10).hits)
    collections = storage.client.list_collections()
    assert len([c for c in collections if c.startswith("reindex_v") and not c.endswith("_docs")]) <= 2


def test_a_mismatched_model_is_refused(hash_pair):
    _, _, storage = hash_pair
    with pytest.raises(ModelMismatchError, match="test/hash-encoder"):
        index_paths([DATA], storage, encoder=HashEncoder("other/model"))
    with pytest.raises(ModelMismatchError):
        SearchEngine(storage, encoder=HashEncoder("other/model"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lite_server(tmp_path):
    """`milvus-lite server` on 127.0.0.1, stopped afterwards."""
    port = free_port()
    exe = Path(sys.executable).with_name("milvus-lite")
    if not exe.exists():
        pytest.skip("the milvus-lite command is not installed beside this Python")
    server = subprocess.Popen([str(exe), "server", "--data-dir", str(tmp_path / "data"), "--host", "127.0.0.1",
                               "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        for _ in range(300):
            if server.poll() is not None:
                pytest.skip(f"milvus-lite server exited: {server.stderr.read().decode(errors='replace')[-300:]}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_lite_server_by_uri(lite_server, hash_pair):
    embedded, _, _ = hash_pair
    encoder = HashEncoder()
    storage = milvus_storage(lite_server)
    index_paths([DATA], storage, encoder=encoder)
    remote = SearchEngine(storage, encoder=encoder)
    assert same_positions(embedded, remote, QUERIES) >= 0.9


def test_web_app_on_milvus(hash_pair):
    from web import create_app

    _, milvus, storage = hash_pair
    client = create_app(storage=storage, engine=milvus, testing=True).test_client()
    answer = client.get("/api/search", query_string={"q": "公平竞争审查", "k": 3})
    assert answer.status_code == 200 and len(answer.get_json()["results"]) == 3
    page = client.get("/", query_string={"q": "法律顾问"})
    assert page.status_code == 200 and "法律顾问" in page.get_data(as_text=True)


@pytest.mark.model
def test_real_model_parity_and_cli(tmp_path, engine, real_encoder):
    """The real model: Milvus ranks the seeds' queries like the embedded index, and the CLI drives it."""
    from cli.main import main

    db = str(tmp_path / "cli.db")
    assert main(["--backend", "milvus", "--milvus-uri", db, "index", "--quiet", str(DATA)]) == 0
    milvus = SearchEngine(milvus_storage(db), encoder=real_encoder)
    assert same_positions(engine, milvus, QUERIES) >= 0.9
    assert milvus.search("聘請律師事務所擔任法律顧問", k=3).hits


def test_cli_names_what_is_wrong_with_a_milvus_setting(tmp_path, capsys):
    from cli.main import main

    assert main(["--backend", "milvus", "list"]) == 2
    assert "needs --milvus-uri" in capsys.readouterr().err
    assert main(["--backend", "milvus", "--milvus-uri", str(tmp_path / "missing" / "x.db"), "list"]) == 2
    assert "cannot open Milvus" in capsys.readouterr().err
    assert main(["--backend", "milvus", "--milvus-uri", str(tmp_path / "empty.db"), "list"]) == 2
    assert "no index 'fazhi'" in capsys.readouterr().err


def test_a_publish_killed_before_the_switch_never_costs_the_previous_version(tmp_path, monkeypatch):
    """Rows a publish killed before switching the generation wrote are invisible, then undone by the next one."""
    import shutil

    storage = milvus_storage(str(tmp_path / "crash.db"))
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019")
    encoder = HashEncoder()
    try:
        index_paths([corpus], storage, encoder=encoder)
    except Exception as exc:  # noqa: BLE001 - e.g. the jieba analyzer unavailable in this Lite build
        pytest.skip(f"Milvus Lite cannot build the collection here: {exc}")
    good = storage.current_version()
    engine = SearchEngine(storage, encoder=encoder)
    before = [h.passage_id for h in engine.search("法律顾问", k=10).hits]
    for key in ("jm_ict_2024", "bureau_2022"):  # two killed publishes: their rows are written, never switched to
        shutil.copy(DATA / SEEDS[key], corpus)
        monkeypatch.setattr(storage, "_switch", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            index_paths([corpus], storage, encoder=encoder)
        monkeypatch.undo()
        assert storage.current_version() == good and len(list_documents(storage)) == 1
        fresh = SearchEngine(storage, encoder=encoder)
        assert [h.passage_id for h in fresh.search("法律顾问", k=10).hits] == before
    generation = storage.manifest().generation
    assert storage.rows(storage.passages_collection, ["row_id"], f"added > {generation}")  # the orphans are there
    index_paths([corpus], storage, encoder=encoder)
    manifest = storage.manifest()
    assert manifest.generation == generation + 1 and len(list_documents(storage)) == 3
    rows = storage.rows(storage.passages_collection, ["row_id", "passage_id", "added", "deleted"])
    assert len(rows) == manifest.passages and len({r["passage_id"] for r in rows}) == len(rows)  # nothing doubled
    assert all(r["added"] <= manifest.generation and r["deleted"] == 0 for r in rows)


def test_a_publish_writes_only_the_changed_documents_rows_and_readers_never_see_half(tmp_path, monkeypatch):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019", "jm_ict_2024", "bureau_2022")
    storage = milvus_storage(str(tmp_path / "diff.db"), "diff")
    encoder = HashEncoder()
    index_paths([corpus], storage, encoder=encoder)
    reader = storage.open_reader()
    probe = encoder.encode_queries(["法律顾问"])[0]

    def state(r) -> tuple:
        """What a reader admits: its documents, its passages in order, its dense ranking (BM25 is left out:
        Milvus counts every row of the collection in its BM25 statistics, hidden ones too)."""
        return (r.version, sorted(r.documents), list(r.passage_ids),
                [r.passage_ids[p] for p in r.dense_top(probe, 10, Filters(), None)],
                [p.passage_id for p in r.document_passages(changed)])

    docs = {d.name: d.doc_id for d in list_documents(storage)}
    changed = docs[SEEDS["jm_ict_2024"]]
    before = state(reader)
    written: list[tuple[str, str, list]] = []
    for method in ("insert", "upsert"):
        real = getattr(storage.client, method)

        def spy(collection, rows, _real=real, _method=method, **kw):
            written.append((_method, collection, rows))
            return _real(collection, rows, **kw)

        monkeypatch.setattr(storage.client, method, spy)
    seen_mid_publish = []
    real_switch = storage._switch

    def switch(manifest):  # a reader opened after the rows are written, before the switch: the old state whole
        seen_mid_publish.append(state(storage.open_reader()))
        real_switch(manifest)

    monkeypatch.setattr(storage, "_switch", switch)
    target = corpus / SEEDS["jm_ict_2024"]
    target.write_text(target.read_text(encoding="utf-8") + "\n（五）新增措施。建立行政执法案卷评查制度。", encoding="utf-8")
    index_paths([corpus], storage, encoder=encoder)
    passage_rows = [r for m, c, rows in written if c == storage.passages_collection for r in rows]
    document_rows = [r for m, c, rows in written if c == storage.documents_collection for r in rows]
    assert passage_rows and {r["doc_id"] for r in passage_rows} == {changed}  # only the changed document's rows
    assert {r["doc_id"] for r in document_rows} == {changed}
    old_count = len(reader.document_passages(changed))
    assert len(passage_rows) == old_count + len(storage.open_reader().document_passages(changed))  # marks + new rows
    assert seen_mid_publish == [before]
    assert state(reader) == before  # the previous generation's reader: its rows are kept until the next publish
    after = storage.open_reader()
    assert after.version != reader.version and len(after.document_passages(changed)) == len(reader.document_passages(changed)) + 1
    written.clear()
    delete_documents(storage, [docs[SEEDS["bureau_2022"]]])
    assert not [r for m, c, rows in written if m == "insert" and c != storage.meta_collection for r in rows]
    assert docs[SEEDS["bureau_2022"]] not in storage.open_reader().documents


def old_layout(storage, documents, passages, vectors, model) -> str:
    """An index as the Milvus backend wrote it before generations: collections per version, keyed by passage
    id and by doc_id#chunk, and a meta row without a generation."""
    import json as _json
    import time as _time

    from pymilvus import DataType, Function, FunctionType, MilvusClient

    from core.records import Manifest, document_row, passage_row
    from core.storage.milvus.store import ANALYZER, BM25_PARAMS, PLACEHOLDER, year_number

    version = "v20250101_000000_abcdef"
    name = f"{storage.name}_{version}"
    schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("passage_id", DataType.VARCHAR, is_primary=True, max_length=256)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=128)
    for field in ("ordinal", "start", "end", "year"):
        schema.add_field(field, DataType.INT64)
    for field, length in (("kind", 32), ("heading_path", 8192), ("text", 65535), ("match_text", 65535),
                          ("issuing_body", 512), ("region", 512), ("doc_type", 512), ("script", 512)):
        schema.add_field(field, DataType.VARCHAR, max_length=length)
    schema.add_field("tokens", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params=ANALYZER,
                     enable_match=True)
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=model.dim)
    schema.add_function(Function(name="tokens_bm25", function_type=FunctionType.BM25, input_field_names=["tokens"],
                                 output_field_names=["sparse"]))
    index = storage.client.prepare_index_params()
    index.add_index(field_name="vector", index_type="FLAT", metric_type="IP")
    index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25_PARAMS)
    storage.client.create_collection(name, schema=schema, index_params=index)
    by_id = {d.doc_id: d for d in documents}
    storage.client.insert(name, [{**passage_row(p), "vector": v.tolist(), "issuing_body": by_id[p.doc_id].issuing_body,
                                  "region": by_id[p.doc_id].region, "doc_type": by_id[p.doc_id].doc_type,
                                  "script": by_id[p.doc_id].script, "year": year_number(by_id[p.doc_id].year)}
                                 for p, v in zip(passages, vectors)])
    storage._create_placeholder(f"{name}_docs", {"doc_id": 200, "chunk": 0, "record": 65535, "text": 65535})
    storage.client.insert(f"{name}_docs", [{"doc_id": f"{d.doc_id}#0", "chunk": 0, "text": d.text,
                                            "record": _json.dumps(document_row(d, with_text=False), ensure_ascii=False),
                                            "placeholder": PLACEHOLDER} for d in documents])
    for collection in (name, f"{name}_docs"):
        storage.client.flush(collection)
    storage._switch(Manifest(version=version, model=model, documents=len(documents), passages=len(passages),
                             created=_time.time(), backend="milvus", format=2))
    return version


def test_an_index_written_before_generations_opens_and_migrates_without_embedding(tmp_path):
    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019", "jm_ict_2024")
    encoder = HashEncoder()
    index_paths([corpus], tmp_path / "embedded", encoder=encoder)
    embedded = open_storage(tmp_path / "embedded")
    documents, passages, vectors = embedded.load()
    storage = milvus_storage(str(tmp_path / "old.db"), "old")
    version = old_layout(storage, documents, passages, vectors, embedded.manifest().model)
    old = SearchEngine(storage, encoder=encoder)
    reference = SearchEngine(tmp_path / "embedded", encoder=encoder)
    assert old.health()["version"] == version
    assert [h.passage_id for h in old.search("法律顾问", k=5, mode="dense").hits] == \
        [h.passage_id for h in reference.search("法律顾问", k=5, mode="dense").hits]
    import shutil

    shutil.copy(DATA / SEEDS["bureau_2022"], corpus)
    before = encoder.encoded
    summary = index_paths([corpus], storage, encoder=encoder)
    assert summary.added and storage.manifest().generation == 1
    assert encoder.encoded - before == summary.embedded == len(storage.open_reader().document_passages(
        next(d.doc_id for d in list_documents(storage) if d.name == SEEDS["bureau_2022"])))  # only the new report
    assert len(list_documents(storage)) == 3 and f"old_{version}" in storage.client.list_collections()  # kept
    index_paths([corpus / SEEDS["gz_ict_2019"]], storage, encoder=encoder)  # nothing changed: no publish
    delete_documents(storage, [next(d.doc_id for d in list_documents(storage) if d.name == SEEDS["gz_ict_2019"])])
    assert f"old_{version}" not in storage.client.list_collections()  # no kept version reads it any more
    assert len(list_documents(storage)) == 2
