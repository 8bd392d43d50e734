"""Seeds as users get them (GBK, Big5, Word, PDF, a web page) index like the clean UTF-8 originals."""

import shutil

import pytest

from indexer.pipeline import build_document
from indexer.sources import SourceError, read_file
from tests.conftest import DATA, SEEDS
from tests.formats import write_docx, write_encoded, write_html, write_pdf

SIMPLIFIED = [k for k in SEEDS if k != "gz_gov_2018_trad"]


def passages_of(path):
    items = list(read_file(path))
    assert len(items) == 1 and not isinstance(items[0], SourceError), items
    doc, passages = build_document(items[0])
    return doc, [(p.heading_path, p.text) for p in passages]


def reference(tmp_path, text):
    """The same characters as a clean UTF-8 file."""
    path = tmp_path / "reference.txt"
    path.write_text(text, encoding="utf-8")
    return passages_of(path)[1]


@pytest.mark.parametrize("key,encoding", [(k, "gbk") for k in SIMPLIFIED] + [(k, "gb18030") for k in SEEDS]
                         + [("gz_gov_2018_trad", "big5"), ("gz_gov_2018_trad", "utf-16")])
def test_legacy_encodings_decode_exactly(tmp_path, key, encoding):
    text = (DATA / SEEDS[key]).read_text(encoding="utf-8")
    path = write_encoded(text, tmp_path / f"{key}.txt", encoding)
    representable = text.encode(encoding, errors="replace").decode(encoding)
    assert passages_of(path)[1] == reference(tmp_path, representable)


@pytest.mark.parametrize("key", list(SEEDS))
@pytest.mark.parametrize("writer", [write_docx, write_pdf, write_html], ids=["docx", "pdf", "html"])
def test_documents_and_pages_give_the_same_passages(tmp_path, key, writer):
    text = (DATA / SEEDS[key]).read_text(encoding="utf-8")
    suffix = {"write_docx": ".docx", "write_pdf": ".pdf", "write_html": ".html"}[writer.__name__]
    _, got = passages_of(writer(text, tmp_path / f"{key}{suffix}"))
    _, want = passages_of(DATA / SEEDS[key])
    assert got == want


def test_docx_heading_styles_and_title(tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("某局法治政府建设报告", level=0)
    document.add_heading("加强组织领导", level=1)
    document.add_paragraph("建立依法行政领导机制，对重点工作进行集体审议，推动各项工作落实落地。")
    document.save(tmp_path / "r.docx")
    doc, passages = passages_of(tmp_path / "r.docx")
    assert doc.title == "某局法治政府建设报告"
    assert passages == [(["加强组织领导"], "建立依法行政领导机制，对重点工作进行集体审议，推动各项工作落实落地。")]


def test_pdf_without_text_layer_is_reported_not_indexed_empty(tmp_path):
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(tmp_path / "scan.pdf"))
    pdf.rect(50, 50, 400, 600, fill=1)  # a "scanned page": graphics, no text
    pdf.showPage()
    pdf.save()
    (item,) = read_file(tmp_path / "scan.pdf")
    assert isinstance(item, SourceError) and "no text layer" in str(item)


@pytest.mark.parametrize("name,data,reason", [
    ("broken.pdf", b"%PDF-1.4 garbage", "not a readable PDF"),
    ("broken.docx", b"PK\x03\x04 not really a zip", "not a readable .docx"),
])
def test_broken_binary_formats_are_reported(tmp_path, name, data, reason):
    (tmp_path / name).write_bytes(data)
    (item,) = read_file(tmp_path / name)
    assert isinstance(item, SourceError) and reason in str(item) and name in str(item)


@pytest.mark.model
def test_search_over_mixed_formats_matches_the_originals(tmp_path, real_encoder):
    from indexer.pipeline import index_paths
    from search.engine import SearchEngine

    folder, clean = tmp_path / "mixed", tmp_path / "clean"
    folder.mkdir()
    clean.mkdir()
    text = {k: (DATA / n).read_text(encoding="utf-8") for k, n in SEEDS.items()}
    # Big5 has no 谘: the clean reference holds the characters a Big5 file can.
    text["gz_gov_2018_trad"] = text["gz_gov_2018_trad"].encode("big5", "replace").decode("big5")
    for key, name in SEEDS.items():
        (clean / name).write_text(text[key], encoding="utf-8")
        sidecar = DATA / name.replace(".txt", ".meta.json")
        if sidecar.exists():
            shutil.copy(sidecar, clean)
    write_encoded(text["gz_ict_2019"], folder / "a.txt", "gbk")
    write_docx(text["jm_ict_2024"], folder / "b.docx")
    write_pdf(text["gd_ict_plan_2020"], folder / "c.pdf")
    write_encoded(text["gz_gov_2018_trad"], folder / "d.txt", "big5")
    write_html(text["bureau_2022"], folder / "e.html")
    shutil.copy(DATA / "002_3c66cfd8ce54436d.meta.json", folder / "c.meta.json")
    shutil.copy(DATA / "004_e7f45dcb97ad5be8.meta.json", folder / "e.meta.json")
    summary = index_paths([folder], tmp_path / "idx", encoder=real_encoder)
    assert summary.documents == 5 and not summary.skipped
    index_paths([clean], tmp_path / "clean-idx", encoder=real_encoder)
    mixed = SearchEngine(tmp_path / "idx", encoder=real_encoder)
    engine = SearchEngine(tmp_path / "clean-idx", encoder=real_encoder)
    for query in ("法律顾问", "公平竞争审查", "行政执法全过程记录", "12345热线"):
        want = [(h.title, h.text) for h in engine.search(query, k=10, per_doc=2).hits]
        got = [(h.title, h.text) for h in mixed.search(query, k=10, per_doc=2).hits]
        assert got == want, query
