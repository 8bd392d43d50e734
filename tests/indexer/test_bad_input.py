"""Document identity across moves, and bad input that must become a skip with a reason, never an abort."""

import hashlib
import io
import json
import os
import shutil
import zipfile
from dataclasses import replace

import pytest

from core.storage.embedded import store
from core.storage.embedded.store import current_version_dir, load_documents, load_passages, load_vectors, read_manifest
from indexer import pipeline
from indexer.pipeline import index_paths, list_documents
from indexer.sources import SourceError, discover_keyed, read_file, split_source
from search.engine import SearchEngine
from tests.conftest import SEEDS, copy_seeds
from tests.fakes import HashEncoder

THREE = ("gz_ict_2019", "jm_ict_2024", "bureau_2022")
REPORT = "一、总体情况\n（一）加强组织领导，推进法治政府建设工作，落实第一责任人职责。\n（二）聘请法律顾问参与重大行政决策。"


def ids_by_name(index_dir) -> dict[str, str]:
    return {d.name: d.doc_id for d in list_documents(index_dir)}


def printable(summary) -> str:
    """The summary as the CLI prints it; fails if any line holds text that can't be encoded."""
    text = "\n".join(summary.lines())
    text.encode("utf-8")
    return text


# --- identity ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("prune", [True, False], ids=["prune", "no-prune"])
def test_moving_the_corpus_folder_keeps_every_document_its_id_and_its_vectors(tmp_path, prune):
    corpus = copy_seeds(tmp_path / "data", *THREE)
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    before, embedded = ids_by_name(tmp_path / "idx"), enc.encoded
    corpus.rename(tmp_path / "moved")

    summary = index_paths([tmp_path / "moved"], tmp_path / "idx", encoder=enc, prune=prune)
    assert summary.documents == 3 and not summary.removed and not summary.duplicates, summary.lines()
    assert len(summary.moved) == 3 and all("/data/" in m and "/moved/" in m for m in summary.moved)
    assert "moved:" in printable(summary)
    assert enc.encoded == embedded  # nothing re-embedded
    assert ids_by_name(tmp_path / "idx") == before
    assert all("/moved/" in d.source for d in list_documents(tmp_path / "idx"))
    again = index_paths([tmp_path / "moved"], tmp_path / "idx", encoder=enc, prune=True)
    assert len(again.unchanged) == 3 and not again.moved and again.version == ""


def test_an_edited_file_in_a_moved_folder_keeps_its_id(tmp_path):
    corpus = copy_seeds(tmp_path / "data", *THREE)
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    before = ids_by_name(tmp_path / "idx")
    corpus.rename(tmp_path / "moved")
    edited = tmp_path / "moved" / SEEDS["jm_ict_2024"]
    edited.write_text(edited.read_text(encoding="utf-8") + "\n（九）新增：建立行政执法案卷评查制度。", encoding="utf-8")
    summary = index_paths([tmp_path / "moved"], tmp_path / "idx", encoder=enc, prune=True)
    assert summary.documents == 3 and not summary.removed and len(summary.updated) == 1
    assert ids_by_name(tmp_path / "idx") == before


def test_a_renamed_file_keeps_its_id(tmp_path):
    corpus = copy_seeds(tmp_path / "data", *THREE)
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    old_id = ids_by_name(tmp_path / "idx")[SEEDS["bureau_2022"]]
    (corpus / SEEDS["bureau_2022"]).rename(corpus / "renamed.txt")
    summary = index_paths([corpus], tmp_path / "idx", encoder=enc, prune=True)
    assert summary.documents == 3 and not summary.removed and len(summary.moved) == 1
    assert ids_by_name(tmp_path / "idx")["renamed.txt"] == old_id


def test_a_copy_whose_original_was_deleted_survives(tmp_path):
    corpus = copy_seeds(tmp_path / "data", *THREE)
    shutil.copy(corpus / SEEDS["bureau_2022"], corpus / "copy.txt")
    enc = HashEncoder()
    first = index_paths([corpus], tmp_path / "idx", encoder=enc)
    assert first.documents == 3 and len(first.duplicates) == 1
    old_id = ids_by_name(tmp_path / "idx")[SEEDS["bureau_2022"]]
    (corpus / SEEDS["bureau_2022"]).unlink()
    summary = index_paths([corpus], tmp_path / "idx", encoder=enc, prune=True)
    assert summary.documents == 3 and not summary.removed and not summary.duplicates, summary.lines()
    assert ids_by_name(tmp_path / "idx")["copy.txt"] == old_id


def test_a_copied_corpus_with_the_original_still_there_is_all_duplicates(tmp_path):
    corpus = copy_seeds(tmp_path / "data", *THREE)
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    shutil.copytree(corpus, tmp_path / "copy")
    summary = index_paths([tmp_path / "copy"], tmp_path / "idx", encoder=enc, prune=True)
    assert summary.documents == 3 and len(summary.duplicates) == 3 and not summary.removed


def test_same_relative_name_under_two_folders_are_two_documents(tmp_path):
    for folder, body in (("a", REPORT), ("b", REPORT.replace("法律顾问", "公职律师"))):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "report.txt").write_text(body, encoding="utf-8")
    enc = HashEncoder()
    index_paths([tmp_path / "a"], tmp_path / "idx", encoder=enc)
    summary = index_paths([tmp_path / "b"], tmp_path / "idx", encoder=enc)
    docs = list_documents(tmp_path / "idx")
    assert summary.added and len(docs) == 2 and len({d.doc_id for d in docs}) == 2
    both = index_paths([tmp_path / "a", tmp_path / "b"], tmp_path / "idx", encoder=enc, prune=True)
    assert len(both.unchanged) == 2 and both.documents == 2


def test_a_legacy_index_with_absolute_path_ids_migrates_without_reembedding(tmp_path):
    corpus = copy_seeds(tmp_path / "data", *THREE)
    enc = HashEncoder()
    index_paths([corpus], tmp_path / "idx", encoder=enc)
    version = current_version_dir(tmp_path / "idx")  # rewrite it as the old scheme wrote it: sha1(abs path)
    docs, passages, vectors = load_documents(version), load_passages(version), load_vectors(version)
    legacy = {d.doc_id: hashlib.sha1(d.source.encode()).hexdigest()[:12] for d in docs}
    store.publish(
        tmp_path / "idx", [replace(d, doc_id=legacy[d.doc_id]) for d in docs],
        [replace(p, doc_id=legacy[p.doc_id], passage_id=f"{legacy[p.doc_id]}-{p.ordinal:04d}") for p in passages],
        vectors, read_manifest(version).model,
    )
    before, embedded = ids_by_name(tmp_path / "idx"), enc.encoded
    assert set(before.values()) == set(legacy.values())

    same = index_paths([corpus], tmp_path / "idx", encoder=enc, prune=True)
    assert len(same.unchanged) == 3 and same.version == ""
    corpus.rename(tmp_path / "moved")
    moved = index_paths([tmp_path / "moved"], tmp_path / "idx", encoder=enc, prune=True)
    assert moved.documents == 3 and len(moved.moved) == 3 and not moved.removed
    assert ids_by_name(tmp_path / "idx") == before and enc.encoded == embedded
    engine = SearchEngine(tmp_path / "idx", encoder=enc)
    assert {h.doc_id for h in engine.search("法律顾问", k=10).hits} <= set(before.values())


# --- names and paths --------------------------------------------------------------------------------------

def test_a_hash_in_a_file_name_is_part_of_the_name(tmp_path):
    corpus = tmp_path / "data"
    corpus.mkdir()
    (corpus / "report#2023.txt").write_text(REPORT, encoding="utf-8")
    (corpus / "lines#1.jsonl").write_text(json.dumps({"id": "x#y", "text": REPORT + "一是"}, ensure_ascii=False), encoding="utf-8")
    enc = HashEncoder()
    first = index_paths([corpus], tmp_path / "idx", encoder=enc)
    assert first.documents == 2, first.lines()
    again = index_paths([corpus], tmp_path / "idx", encoder=enc, prune=True)
    assert not again.removed and len(again.unchanged) == 2
    assert sorted(d.name for d in list_documents(tmp_path / "idx")) == ["lines#1.jsonl#x#y", "report#2023.txt"]
    (corpus / "notes.jsonl#draft.txt").write_text(REPORT + "二是", encoding="utf-8")  # a .txt, despite its name
    assert index_paths([corpus], tmp_path / "idx", encoder=enc).documents == 3
    other = copy_seeds(tmp_path / "other", "gz_ict_2019")
    elsewhere = index_paths([other], tmp_path / "idx", encoder=enc, prune=True)  # not read, but still there
    assert not elsewhere.removed and elsewhere.documents == 4
    assert split_source("/d/report#2023.txt") == ("/d/report#2023.txt", "")
    assert split_source("/d/a#b.jsonl#k#1") == ("/d/a#b.jsonl", "k#1")


@pytest.mark.parametrize("raw_name", ["报告".encode("gbk") + b".txt", b"\xff\xfe-bad.txt"], ids=["gbk", "undecodable"])
def test_a_file_name_that_is_not_utf8_is_indexed_and_stays_indexed(tmp_path, raw_name):
    corpus = copy_seeds(tmp_path / "data", "gz_ict_2019")
    other = copy_seeds(tmp_path / "other", "jm_ict_2024")
    path = corpus / os.fsdecode(raw_name)
    path.write_text(REPORT, encoding="utf-8")
    enc = HashEncoder()
    summary = index_paths([corpus], tmp_path / "idx", encoder=enc)
    assert summary.documents == 2 and not summary.skipped, summary.lines()
    printable(summary)
    names = {d.name for d in list_documents(tmp_path / "idx")}
    assert ("报告.txt" if raw_name.startswith("报告".encode("gbk")) else "\\xff\\xfe-bad.txt") in names
    again = index_paths([corpus], tmp_path / "idx", encoder=enc, prune=True)
    assert not again.removed and len(again.unchanged) == 2
    elsewhere = index_paths([other], tmp_path / "idx", encoder=enc, prune=True)  # its file still exists: kept
    assert not elsewhere.removed and elsewhere.documents == 3
    path.unlink()
    gone = index_paths([corpus], tmp_path / "idx", encoder=enc, prune=True)
    assert len(gone.removed) == 1 and gone.documents == 2


def test_file_names_of_250_to_255_bytes(tmp_path):
    corpus = copy_seeds(tmp_path / "data", "gz_ict_2019")
    for size in (250, 253, 255):
        stem = "法" * ((size - 6) // 3)
        name = stem + "x" * (size - 4 - len(stem.encode())) + ".txt"
        assert len(name.encode()) == size
        (corpus / name).write_text(REPORT + "法" * size, encoding="utf-8")
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 4 and not summary.skipped, summary.lines()


# --- text and metadata ------------------------------------------------------------------------------------

def test_lone_surrogates_in_jsonl_text_title_and_sidecar_are_repaired_with_a_warning(tmp_path):
    corpus = copy_seeds(tmp_path / "data", "gz_ict_2019")
    lines = [
        '{"id": "a", "title": "标题\\ud800", "text": "一、总体情况\\n（一）推进法治政府建设\\ud800工作，聘请法律顾问。"}',
        '{"id": "b\\udfff", "text": "第一条 为了规范行政执法，制定本办法\\udc80。"}',
    ]
    (corpus / "lines.jsonl").write_text("\n".join(lines), encoding="utf-8")
    (corpus / "r.txt").write_text(REPORT, encoding="utf-8")
    (corpus / "r.meta.json").write_text('{"title": "报告\\ud800", "issuing_body": "\\udc00某局"}', encoding="utf-8")
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 4 and not summary.skipped, summary.lines()
    text = printable(summary)
    assert "lone surrogates" in text and "lines.jsonl:1" in text and "r.txt" in text
    titles = {d.title for d in list_documents(tmp_path / "idx")}
    assert "标题\ufffd" in titles and "报告\ufffd" in titles


def test_a_number_in_a_sidecar_is_read_as_text_and_a_list_is_a_skip(tmp_path):
    corpus = copy_seeds(tmp_path / "data", "gz_ict_2019")
    (corpus / "a.txt").write_text(REPORT, encoding="utf-8")
    (corpus / "a.meta.json").write_text('{"title": 2020, "year": 2019}', encoding="utf-8")
    (corpus / "b.txt").write_text(REPORT + "二是", encoding="utf-8")
    (corpus / "b.meta.json").write_text('{"title": ["不是", "文本"]}', encoding="utf-8")
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 2, summary.lines()
    docs = {d.name: d for d in list_documents(tmp_path / "idx")}
    assert docs["a.txt"].title == "2020" and docs["a.txt"].year == "2019"
    assert any("a.txt" in w and "'title' is a number" in w for w in summary.warnings)
    assert any("b.txt" in s and "'title' must be text" in s for s in summary.skipped)


def test_a_duplicate_jsonl_id_is_reported_and_the_first_line_kept(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in [
        {"id": "7", "title": "第一", "text": REPORT},
        {"id": "7", "title": "第二", "text": REPORT + "二是"},
        {"id": "8", "title": "第三", "text": REPORT + "三是"},
    ]), encoding="utf-8")
    summary = index_paths([path], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 2
    assert any("docs.jsonl:2" in s and "duplicate id '7'" in s and "line 1" in s for s in summary.skipped)
    assert sorted(d.title for d in list_documents(tmp_path / "idx")) == ["第一", "第三"]


# --- links and special files ------------------------------------------------------------------------------

def test_links_loops_fifos_and_links_out_of_the_corpus_are_skipped_with_reasons(tmp_path):
    corpus = copy_seeds(tmp_path / "data", "gz_ict_2019")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(REPORT, encoding="utf-8")
    (corpus / "out.txt").symlink_to(outside / "secret.txt")
    (corpus / "outdir").symlink_to(outside)
    (corpus / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    (corpus / "loop1.txt").symlink_to(corpus / "loop2.txt")
    (corpus / "loop2.txt").symlink_to(corpus / "loop1.txt")
    (corpus / "sub").mkdir()
    (corpus / "sub" / "up").symlink_to(corpus)  # a folder loop
    (corpus / "inside.txt").symlink_to(corpus / SEEDS["gz_ict_2019"])
    os.mkfifo(corpus / "pipe.txt")
    summary = index_paths([corpus, corpus / "pipe.txt"], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 1, summary.lines()
    reasons = "\n".join(summary.skipped)
    for name, why in [("out.txt", "outside the corpus"), ("outdir", "outside the corpus"), ("dangling.txt", "dangling"),
                      ("loop1.txt", "loop"), ("loop2.txt", "loop"), ("up", "inside the corpus"), ("pipe.txt", "FIFO")]:
        assert any(name in line and why in line for line in summary.skipped), (name, reasons)
    assert "secret" not in "".join(d.source for d in list_documents(tmp_path / "idx"))
    files, _ = discover_keyed([corpus])
    assert sorted(key for _, key in files) == sorted([SEEDS["gz_ict_2019"], "inside.txt"])


# --- unexpected failures ----------------------------------------------------------------------------------

def test_an_unexpected_error_building_one_document_is_a_skip(tmp_path, monkeypatch):
    corpus = copy_seeds(tmp_path / "data", *THREE)
    real = pipeline.build_document

    def flaky(raw):
        if raw.name == SEEDS["jm_ict_2024"]:
            raise ZeroDivisionError("boom in the structure parser")
        return real(raw)

    monkeypatch.setattr(pipeline, "build_document", flaky)
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 2
    assert any(SEEDS["jm_ict_2024"] in s and "ZeroDivisionError" in s and "boom" in s for s in summary.skipped)


def test_an_unexpected_error_reading_one_file_is_a_skip(tmp_path, monkeypatch):
    corpus = copy_seeds(tmp_path / "data", *THREE)
    real = pipeline.read_file

    def flaky(path, key=None):
        if path.name == SEEDS["bureau_2022"]:
            raise MemoryError("parser ran out")
        return real(path, key)

    monkeypatch.setattr(pipeline, "read_file", flaky)
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 2
    assert any(SEEDS["bureau_2022"] in s and "MemoryError" in s for s in summary.skipped)


def test_text_no_database_can_store_is_a_skip_not_a_failed_publish(tmp_path, monkeypatch):
    corpus = copy_seeds(tmp_path / "data", "gz_ict_2019", "jm_ict_2024")
    real = pipeline.build_document

    def broken(raw):
        doc, passages = real(raw)
        if raw.name == SEEDS["jm_ict_2024"]:
            doc = replace(doc, title="坏\ud800")  # as if a surrogate slipped past the reader
        return doc, passages

    monkeypatch.setattr(pipeline, "build_document", broken)
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 1 and any(SEEDS["jm_ict_2024"] in s for s in summary.skipped)


# --- zip-based formats ------------------------------------------------------------------------------------

def zip_bomb_docx(path, xml_bytes: int) -> None:
    """A .docx whose document.xml unpacks to `xml_bytes` of repetitive XML (about 100 KB packed)."""
    from tests.formats import write_docx

    write_docx("一、总体情况\n推进法治政府建设。", path)
    with zipfile.ZipFile(path) as original:
        parts = {i.filename: original.read(i) for i in original.infolist()}
    paragraph = b"<w:p><w:r><w:t>\xe6\xb3\x95\xe6\xb2\xbb\xe6\x94\xbf\xe5\xba\x9c\xe5\xbb\xba\xe8\xae\xbe</w:t></w:r></w:p>"
    body = paragraph * (xml_bytes // len(paragraph))
    xml = parts["word/document.xml"]
    start = xml.index(b"<w:body>") + len(b"<w:body>")
    parts["word/document.xml"] = xml[:start] + body + xml[start:]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as bomb:
        for name, data in parts.items():
            bomb.writestr(name, data)
    path.write_bytes(buffer.getvalue())


def test_a_docx_zip_bomb_is_refused_before_parsing(tmp_path, monkeypatch):
    import docx

    corpus = copy_seeds(tmp_path / "data", "gz_ict_2019")
    zip_bomb_docx(corpus / "bomb.docx", 22 * 1024 * 1024)
    assert (corpus / "bomb.docx").stat().st_size < 200_000
    parsed = []
    real = docx.Document
    monkeypatch.setattr(docx, "Document", lambda *a, **k: parsed.append(1) or real(*a, **k))
    (item,) = list(read_file(corpus / "bomb.docx"))
    assert isinstance(item, SourceError) and "bomb.docx" in str(item) and "refused before parsing" in str(item)
    assert not parsed  # python-docx never saw it
    summary = index_paths([corpus], tmp_path / "idx", encoder=HashEncoder())
    assert summary.documents == 1 and any("bomb.docx" in s and "zip bomb" in s for s in summary.skipped)


def test_a_docx_declaring_more_than_the_budget_is_refused(tmp_path, monkeypatch):
    from indexer import sources

    path = tmp_path / "big.docx"
    zip_bomb_docx(path, 300_000)
    monkeypatch.setattr(sources, "MAX_UNZIPPED_BYTES", 200_000)
    (item,) = list(read_file(path))
    assert isinstance(item, SourceError) and "unpacks to" in str(item) and "limit 200,000" in str(item)
    monkeypatch.undo()
    (doc,) = list(read_file(path))  # within the budget it is an ordinary report
    assert "法治政府建设" in doc.text


def docx_with_part(path, name: str, data: bytes) -> None:
    """A small .docx with one extra part (a photo, or a bomb posing as one)."""
    from tests.formats import write_docx

    write_docx(REPORT, path)
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(name, data)


def test_photos_do_not_count_as_xml_but_count_in_the_total(tmp_path, monkeypatch):
    from indexer import sources

    path = tmp_path / "photos.docx"
    docx_with_part(path, "word/media/image1.jpeg", os.urandom(3 * 1024 * 1024))  # incompressible, like a JPEG
    monkeypatch.setattr(sources, "MAX_UNZIPPED_BYTES", 1024 * 1024)
    (doc,) = list(read_file(path))
    assert "法律顾问" in doc.text
    monkeypatch.setattr(sources, "MAX_UNZIPPED_TOTAL", 2 * 1024 * 1024)
    (item,) = list(read_file(path))
    assert isinstance(item, SourceError) and "refused before parsing" in str(item)


def test_a_bomb_in_a_part_that_is_not_xml_is_refused(tmp_path):
    path = tmp_path / "hidden.docx"
    docx_with_part(path, "word/media/image1.png", b"\x00" * (30 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    (item,) = list(read_file(path))
    assert isinstance(item, SourceError) and "zip bomb" in str(item) and "image1.png" in str(item)


def test_a_file_over_its_byte_limit_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from pathlib import Path

    from indexer import sources

    path = tmp_path / "big.txt"
    path.write_text(REPORT * 20, encoding="utf-8")
    monkeypatch.setattr(sources, "MAX_FILE_BYTES", {**sources.MAX_FILE_BYTES, ".txt": 1000})
    monkeypatch.setattr(Path, "read_bytes", lambda self: pytest.fail("read a file over its limit"))
    (item,) = list(read_file(path))
    assert isinstance(item, SourceError) and "big.txt" in str(item) and "refused before reading" in str(item)


def test_a_file_under_two_given_paths_is_read_once(tmp_path):
    corpus = copy_seeds(tmp_path / "data", "gz_ict_2019")
    copy_seeds(corpus / "sub", "jm_ict_2024")
    summary = index_paths([corpus, corpus / "sub", corpus / "sub" / SEEDS["jm_ict_2024"]], tmp_path / "idx",
                          encoder=HashEncoder())
    assert summary.documents == 2 and len(summary.added) == 2 and not summary.duplicates, summary.lines()


# --- the admin re-index over a folder of bad files --------------------------------------------------------

def test_admin_reindex_over_every_bad_file_answers_200_and_indexes_the_good_ones(tmp_path):
    from core.settings import Settings
    from web import create_app

    corpus = copy_seeds(tmp_path / "corpus", "gz_ict_2019", "jm_ict_2024")
    (corpus / os.fsdecode("报告".encode("gbk") + b".txt")).write_text(REPORT, encoding="utf-8")
    (corpus / "lines.jsonl").write_text('{"id": "1", "title": "\\ud800", "text": "第一条 为了规范行政执法\\udc00。"}\n'
                                        '{"id": "1", "text": "第二条 重复的编号。"}', encoding="utf-8")
    (corpus / "t.txt").write_text(REPORT + "三是", encoding="utf-8")
    (corpus / "t.meta.json").write_text('{"title": 2020, "region": {"省": "广东"}}', encoding="utf-8")
    (corpus / ("长" * 83 + ".txt")).write_text(REPORT + "四是", encoding="utf-8")
    (corpus / "report#2023.txt").write_text(REPORT + "五是", encoding="utf-8")
    zip_bomb_docx(corpus / "bomb.docx", 22 * 1024 * 1024)
    (corpus / "gone.txt").symlink_to(tmp_path / "nowhere")
    enc = HashEncoder()
    index_paths([copy_seeds(tmp_path / "first", "bureau_2022")], tmp_path / "idx", encoder=enc)
    app = create_app(Settings(index=str(tmp_path / "idx"), admin_token="t", reindex_paths=(str(corpus),)),
                     engine=SearchEngine(tmp_path / "idx", encoder=enc), testing=True)
    client = app.test_client()
    for _ in range(2):  # and again: nothing a bad file did sticks
        answer = client.post("/api/admin/reindex", headers={"Authorization": "Bearer t"})
        assert answer.status_code == 200, answer.get_data(as_text=True)[:300]
    names = {d.name for d in list_documents(tmp_path / "idx")}
    assert {SEEDS["gz_ict_2019"], SEEDS["jm_ict_2024"], "报告.txt", "lines.jsonl#1", "report#2023.txt",
            "长" * 83 + ".txt"} <= names
    assert SEEDS["bureau_2022"] in names  # indexed from elsewhere, its file still there: prune keeps it
    skipped = "\n".join(answer.get_json()["skipped"])
    for why in ("duplicate id '1'", "'region' must be text", "zip bomb", "dangling"):
        assert why in skipped, (why, skipped)
