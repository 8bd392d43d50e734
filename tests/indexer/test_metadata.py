"""The expected metadata of each seed, read off its text (and sidecars)."""

import pytest

from indexer.pipeline import build_document
from indexer.sources import read_file
from tests.conftest import DATA, SEEDS

EXPECTED = {
    # title, issuing body, region, year covered, type, script, published
    "gz_ict_2019": ("广州市工业和信息化局2019年度法治政府建设工作报告", "广州市工业和信息化局", "广东省广州市", "2019",
                    "年度报告", "simplified", "2021-10-27"),
    "jm_ict_2024": ("", "江门市工业和信息化局", "广东省江门市", "2024", "年度报告", "simplified", "2024-12-04"),
    "gd_ict_plan_2020": ("广东省工业和信息化厅2020年依法行政工作要点", "广东省工业和信息化厅", "广东省", "2020", "工作要点",
                         "simplified", ""),
    "gz_gov_2018_trad": ("廣州市人民政府關於我市2018年法治政府建設情況的報告", "广州市人民政府", "广东省广州市", "2018",
                         "年度报告", "traditional", "2019-10-02"),
    # no body in title or signature; its text names 韶关 throughout, so the region is known, the body is not
    "bureau_2022": ("2022年法治政府建设工作情况报告", "", "广东省韶关市", "2022", "年度报告", "simplified", ""),
}


@pytest.mark.parametrize("key", list(EXPECTED))
def test_seed_metadata(key):
    (raw,) = read_file(DATA / SEEDS[key])
    doc, _ = build_document(raw)
    got = (doc.title, doc.issuing_body, doc.region, doc.year, doc.doc_type, doc.script, doc.published)
    assert got == EXPECTED[key]


def test_sidecar_overrides_what_the_text_says(tmp_path):
    (tmp_path / "r.txt").write_text((DATA / SEEDS["gz_ict_2019"]).read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "r.meta.json").write_text('{"year": "2020", "body": "某局", "type": "其他"}', encoding="utf-8")
    (raw,) = read_file(tmp_path / "r.txt")
    doc, _ = build_document(raw)
    assert (doc.year, doc.issuing_body, doc.doc_type, doc.region) == ("2020", "某局", "其他", "广东省广州市")


def test_jsonl_meta_fields_are_used(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"title": "某办法", "text": "第一条 为了规范管理，制定本办法。\\n第二条 本办法适用于全市各级行政机关。", '
                    '"meta": {"issuing_body": "某市人民政府", "year": "2021", "doc_type": "法规"}}', encoding="utf-8")
    (raw,) = read_file(path)
    doc, passages = build_document(raw)
    assert (doc.title, doc.issuing_body, doc.year, doc.doc_type) == ("某办法", "某市人民政府", "2021", "法规")
    assert [p.heading_path for p in passages] == [["第一条"], ["第二条"]]
