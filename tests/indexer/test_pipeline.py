"""Indexing runs over a real SQLite/FAISS/BM25 directory with a fake encoder: reuse, updates, crashes."""

import shutil

import pytest

from core.errors import IndexNotFoundError, ModelMismatchError
from indexer.pipeline import index_paths
from core.storage.embedded.store import current_version_dir, load_documents, load_passages
from search.engine import SearchEngine
from tests.conftest import SEEDS, copy_seeds
from tests.fakes import HashEncoder


@pytest.fixture()
def corpus(tmp_path):
    return copy_seeds(tmp_path / "reports", "gz_ict_2019", "jm_ict_2024")


def test_index_then_search_with_fake_encoder(tmp_path, corpus):
    enc = HashEncoder()
    summary = index_paths([corpus], tmp_path / "idx", encoder=enc)
    assert len(summary.added) == 2 and summary.passages == summary.embedded > 20
    engine = SearchEngine(tmp_path / "idx", encoder=enc)
    hits = engine.search("法律顾问", k=5, per_doc=1).hits
    assert {h.source for h in hits} == {SEEDS["gz_ict_2019"], SEEDS["jm_ict_2024"]}
    assert all("法律顾问" in h.matched_terms for h in hits)


def test_second_run_embeds_nothing_and_publishes_nothing(tmp_path, corpus):
    enc = HashEncoder()
    first = index_paths([corpus], tmp_path / "idx", encoder=enc)
    before = enc.encoded
    second = index_paths([corpus], tmp_path / "idx", encoder=enc)
    assert enc.encoded == before
    assert len(second.unchanged) == 2 and second.version == "" and second.passages == first.passages


def test_rebuild_splits_unchanged_documents_again_and_embeds_only_new_passages(tmp_path, corpus, monkeypatch):
    from indexer import structure

    enc = HashEncoder()
    first = index_paths([corpus], tmp_path / "idx", encoder=enc)
    ids = {d.source: d.doc_id for d in load_documents(current_version_dir(tmp_path / "idx"))}
    split_long = structure.split_long
    monkeypatch.setattr(structure, "split_long", lambda start, end, text, limit=0: split_long(start, end, text, 120))
    assert index_paths([corpus], tmp_path / "idx", encoder=enc).version == ""  # an upgrade alone changes nothing
    before = enc.encoded
    rebuilt = index_paths([corpus], tmp_path / "idx", encoder=enc, rebuild=True)
    assert len(rebuilt.updated) == 2 and rebuilt.passages > first.passages  # split again, finer
    assert 0 < rebuilt.embedded == enc.encoded - before < rebuilt.passages  # short passages kept their vectors
    assert {d.source: d.doc_id for d in load_documents(current_version_dir(tmp_path / "idx"))} == ids
    again = index_paths([corpus], tmp_path / "idx", encoder=enc, rebuild=True)
    assert len(again.unchanged) == 2 and again.version == ""  # rebuilt to what it is: nothing to publish


def test_changed_document_reembeds_only_changed_passages(tmp_path, corpus):
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    path = corpus / SEEDS["jm_ict_2024"]
    path.write_text(path.read_text(encoding="utf-8") + "\n（五）新增措施。建立行政执法案卷评查制度，每年组织一次全面评查。", encoding="utf-8")
    before = enc.encoded
    summary = index_paths([corpus], tmp_path / "idx", encoder=enc)
    assert summary.updated == [str(path.resolve())] and len(summary.unchanged) == 1
    assert 1 <= enc.encoded - before <= 2
    texts = [p.text for p in load_passages(current_version_dir(tmp_path / "idx"))]
    assert any("案卷评查制度" in t for t in texts)


def test_documents_from_other_runs_are_kept(tmp_path, corpus):
    enc = HashEncoder()
    index_paths([corpus / SEEDS["gz_ict_2019"]], tmp_path / "idx", encoder=enc)
    index_paths([corpus / SEEDS["jm_ict_2024"]], tmp_path / "idx", encoder=enc)
    names = {d.name for d in load_documents(current_version_dir(tmp_path / "idx"))}
    assert names == {SEEDS["gz_ict_2019"], SEEDS["jm_ict_2024"]}


def test_same_text_under_two_paths_is_indexed_once(tmp_path, corpus):
    shutil.copy(corpus / SEEDS["gz_ict_2019"], corpus / "copy.txt")
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 2 and len(summary.duplicates) == 1


def test_same_text_already_indexed_from_another_path_is_not_added_again(tmp_path, corpus):
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    elsewhere = tmp_path / "moved"
    shutil.copytree(corpus, elsewhere)
    summary = index_paths([elsewhere], tmp_path / "idx", encoder=enc)
    assert len(summary.duplicates) == 2 and summary.documents == 2


def test_bad_files_are_skipped_with_reasons_and_the_run_goes_on(tmp_path, corpus):
    (corpus / "broken.txt").write_bytes(b"\x00\xff\x00" * 50)
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    summary = index_paths([corpus, tmp_path / "nope"], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 2
    reasons = "\n".join(summary.skipped)
    assert "broken.txt" in reasons and "empty.txt" in reasons and "nope" in reasons


def test_crash_while_publishing_leaves_previous_index_whole(tmp_path, corpus, monkeypatch):
    enc = HashEncoder()
    index_paths([corpus / SEEDS["gz_ict_2019"]], tmp_path / "idx", encoder=enc)
    version = current_version_dir(tmp_path / "idx")

    import faiss

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(faiss, "write_index", boom)
    with pytest.raises(OSError):
        index_paths([corpus], tmp_path / "idx", encoder=enc)
    monkeypatch.undo()
    assert current_version_dir(tmp_path / "idx") == version
    assert not list((tmp_path / "idx" / "versions").glob(".tmp-*"))
    engine = SearchEngine(tmp_path / "idx", encoder=enc)
    assert engine.search("法律顾问", k=3).hits


def test_engine_switches_to_a_newly_published_version(tmp_path, corpus):
    enc = HashEncoder()
    index_paths([corpus / SEEDS["gz_ict_2019"]], tmp_path / "idx", encoder=enc)
    engine = SearchEngine(tmp_path / "idx", encoder=enc)
    assert len(engine.documents()) == 1
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    assert engine.refresh() and len(engine.documents()) == 2


def test_other_model_is_refused_with_the_model_the_index_needs(tmp_path, corpus):
    index_paths([corpus], tmp_path / "idx", encoder=HashEncoder("test/model-a"))
    with pytest.raises(ModelMismatchError, match="test/model-a"):
        index_paths([corpus], tmp_path / "idx", encoder=HashEncoder("test/model-b"))
    with pytest.raises(ModelMismatchError, match="test/model-a"):
        SearchEngine(tmp_path / "idx", encoder=HashEncoder("test/model-b"))
    with pytest.raises(ModelMismatchError, match="dim 64"):
        SearchEngine(tmp_path / "idx", encoder=HashEncoder("test/model-a", dim=32))


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(IndexNotFoundError, match="fazhi index"):
        SearchEngine(tmp_path / "none", encoder=HashEncoder())


def test_same_wording_under_different_titles_are_different_documents(tmp_path):
    path = tmp_path / "laws.jsonl"
    body = "依法成立的合同，受法律保护。依法成立的合同，仅对当事人具有法律约束力，但是法律另有规定的除外。"
    path.write_text(
        f'{{"id": "1", "title": "中华人民共和国民法典第四百六十五条", "text": "{body}"}}\n'
        f'{{"id": "2", "title": "中华人民共和国合同法第八条", "text": "{body}"}}\n'
        f'{{"id": "3", "title": "中华人民共和国合同法第八条", "text": "{body}"}}\n'
        f'{{"title": "中华人民共和国合同法第八条", "text": "{body}"}}\n'
        f'{{"title": "中华人民共和国合同法第八条", "text": "{body}"}}\n', encoding="utf-8")
    summary = index_paths([path], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 4 and len(summary.duplicates) == 1  # own ids: own documents


def test_editing_a_sidecar_updates_the_metadata(tmp_path, corpus):
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    (corpus / SEEDS["jm_ict_2024"].replace(".txt", ".meta.json")).write_text('{"year": "2023"}', encoding="utf-8")
    before = enc.encoded
    summary = index_paths([corpus], tmp_path / "idx", encoder=enc)
    assert len(summary.updated) == 1 and enc.encoded == before  # same passages, vectors reused
    years = {d.name: d.year for d in load_documents(current_version_dir(tmp_path / "idx"))}
    assert years[SEEDS["jm_ict_2024"]] == "2023"
