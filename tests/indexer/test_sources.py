"""Reading files: encodings, formats, JSONL lines, sidecars, bad input."""

import json

import pytest

from indexer.sources import SourceError, decode_bytes, discover, html_to_text, read_file

TEXT = "廣州市人民政府關於法治政府建設情況的報告\n一、加強組織領導"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "gb18030", "big5"])
def test_decodes_common_chinese_encodings(tmp_path, encoding):
    data = TEXT.encode(encoding)
    assert decode_bytes(data, tmp_path / "x.txt") == TEXT


def test_utf16_without_byte_order_mark(tmp_path):
    assert decode_bytes(TEXT.encode("utf-16-le"), tmp_path / "x.txt") == TEXT


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf\xff\xfe\xfd", b"\xff\xfe\x00"])
def test_broken_text_after_a_byte_order_mark_is_a_clear_error(tmp_path, data):
    with pytest.raises(SourceError, match="byte-order mark"):
        decode_bytes(data, tmp_path / "x.txt")


def test_binary_file_is_refused_with_its_path(tmp_path):
    path = tmp_path / "fake.txt"
    path.write_bytes(b"\x00\x01\x02binary" * 10)
    (item,) = list(read_file(path))
    assert isinstance(item, SourceError) and "fake.txt" in str(item) and "binary" in str(item)


def test_empty_file_is_reported(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_text("  \n", encoding="utf-8")
    (item,) = list(read_file(path))
    assert isinstance(item, SourceError) and "empty" in str(item)


def test_jsonl_bad_lines_are_reported_and_good_lines_read(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join([
        json.dumps({"title": "甲", "text": "一、总体情况\n（一）加强领导，推进法治政府建设工作。", "meta": {"year": "2020"}}, ensure_ascii=False),
        "{not json",
        json.dumps({"title": "乙"}),
        json.dumps({"id": "b", "text": "第一条 为了规范管理，制定本办法，适用于全市各级行政机关。"}, ensure_ascii=False),
    ]), encoding="utf-8")
    items = list(read_file(path))
    docs = [i for i in items if not isinstance(i, SourceError)]
    errors = [str(i) for i in items if isinstance(i, SourceError)]
    assert [d.title for d in docs] == ["甲", ""] and docs[0].meta == {"year": "2020"}
    assert any("docs.jsonl:2" in e and "invalid JSON" in e for e in errors)
    assert any("docs.jsonl:3" in e and "'text'" in e for e in errors)
    assert docs[0].doc_id != docs[1].doc_id


def test_html_main_text_without_scripts_and_navigation():
    title, text = html_to_text(
        "<html><head><title>报告</title><script>var x=1;</script></head><body><nav>首页 | 关于</nav>"
        "<p>一、总体情况</p><p>（一）加强领导。</p><footer>版权所有</footer></body></html>"
    )
    assert title == "报告"
    assert "一、总体情况" in text and "（一）加强领导" in text
    assert "var x" not in text and "首页" not in text and "版权所有" not in text


def test_sidecar_metadata_is_attached(tmp_path):
    (tmp_path / "r.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "r.meta.json").write_text('{"title": "覆盖的标题", "year": "2018"}', encoding="utf-8")
    (doc,) = list(read_file(tmp_path / "r.txt"))
    assert doc.title == "覆盖的标题" and doc.meta["year"] == "2018"


def test_discover_reports_missing_and_unsupported_paths(tmp_path):
    (tmp_path / "a.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "b.doc").write_bytes(b"\xd0\xcf")
    files, errors = discover([tmp_path, tmp_path / "b.doc", tmp_path / "missing.txt"])
    assert [f.name for f in files] == ["a.txt"]
    assert any("unsupported" in str(e) for e in errors) and any("no such file" in str(e) for e in errors)
