"""Metadata read off the seeds' text (and sidecars)."""

from indexer.clean import clean_text
from indexer.metadata import extract_metadata


def meta_of(seed_text, key):
    return extract_metadata(clean_text(seed_text(key)))


def test_guangzhou_ict_2019(seed_text):
    m = meta_of(seed_text, "gz_ict_2019")
    assert m.title == "广州市工业和信息化局2019年度法治政府建设工作报告"
    assert (m.issuing_body, m.region, m.year, m.doc_type, m.script) == (
        "广州市工业和信息化局", "广东省广州市", "2019", "年度报告", "simplified")


def test_traditional_guangzhou_government_2018(seed_text):
    m = meta_of(seed_text, "gz_gov_2018_trad")
    assert m.title == "廣州市人民政府關於我市2018年法治政府建設情況的報告"
    assert (m.issuing_body, m.year, m.doc_type, m.script) == ("广州市人民政府", "2018", "年度报告", "traditional")


def test_jiangmen_report_without_title_line(seed_text):
    m = meta_of(seed_text, "jm_ict_2024")
    assert m.title == ""  # not guessed
    assert (m.issuing_body, m.region, m.year, m.doc_type) == ("江门市工业和信息化局", "广东省江门市", "2024", "年度报告")


def test_work_plan_year_and_type(seed_text):
    m = meta_of(seed_text, "gd_ict_plan_2020")
    assert (m.year, m.doc_type, m.issuing_body) == ("2020", "工作要点", "")


def test_sidecar_overrides():
    m = extract_metadata("一、情况\n（一）加强领导，推进法治政府建设。").merged({"title": "X报告", "body": "某局", "year": 2021})
    assert (m.title, m.issuing_body, m.year) == ("X报告", "某局", "2021")
