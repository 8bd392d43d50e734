"""The expected metadata of each seed, read off its text (and sidecars)."""

import pytest

from indexer.metadata import extract_metadata, names_a_body
from indexer.pipeline import build_document
from indexer.regions import leading_region
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


@pytest.mark.parametrize("name, region", [
    ("广州市工业和信息化局", "广东省广州市"),
    ("广东省工业和信息化厅", "广东省"),
    ("广东省广州市司法局", "广东省广州市"),
    ("上海市第十五届人民代表大会常务委员会", "上海市"),
    ("南澳县人民政府", "广东省汕头市"),  # a county counts for its prefecture
    ("国家市场监督管理总局", ""),  # 国家 is no region (the old pattern read 国家市)
    ("直辖市人民政府", ""),
    ("朝阳区人民政府", ""),  # two cities have a 朝阳区: not a guess
])
def test_leading_region_reads_the_gazetteer(name, region):
    assert leading_region(name) == region


@pytest.mark.parametrize("title, text, body, region", [
    # an enacting congress names the body (its term left out), and the gazetteer its province
    ("淄博市土地监察条例", "淄博市土地监察条例\n\n2000年8月25日 淄博市第十一届人民代表大会常务委员会第十八次会议通过\n\n"
     "第一条 为了加强土地监察工作，根据有关法律、法规，结合本市实际，制定本条例。", "淄博市人民代表大会常务委员会", "山东省淄博市"),
    # an article's organs are not the issuer
    ("殡葬管理条例", "殡葬管理条例\n\n第一条 为了加强殡葬管理，制定本条例。\n\n第二条 县级以上地方人民政府民政部门负责本行政区域内的殡葬管理工作。",
     "", ""),
    # a law about an organ was not issued by it
    ("交通部臺灣鐵路管理局組織條例", "交通部臺灣鐵路管理局組織條例\n\n第 1 條 交通部為辦理鐵路運輸業務，特設臺灣鐵路管理局。", "", ""),
    # 总体布局 ends like 局 but is no body; a report's title names its author after the year
    ("2018年国务院政府工作报告", "2018年国务院政府工作报告\n\n各位代表：\n\n统筹推进“五位一体”总体布局，协调推进“四个全面”战略布局，各项工作取得新成效。",
     "国务院", "全国"),  # a national organ covers the whole country
    ("1964年中华人民共和国国务院政府工作报告（摘要）", "1964年中华人民共和国国务院政府工作报告（摘要）\n\n五年来，我国各族人民……",
     "中华人民共和国国务院", "全国"),  # a note after the title doesn't hide its author
    ("国家税务总局广州市税务局2022年法治政府建设情况报告", "国家税务总局广州市税务局2022年法治政府建设情况报告\n\n一、主要举措",
     "国家税务总局广州市税务局", "广东省广州市"),  # a national system's local office is where it is
    ("行政院組織法", "行政院組織法\n\n中華民國三十六年三月三十一日國民政府制定公布\n\n第 1 條 行政院為國家最高行政機關。", "", ""),
    ("2024年法治政府建设工作报告", "2024年法治政府建设工作报告\n\n统筹推进“五位一体”总体布局，协调推进“四个全面”战略布局。", "", ""),
    # no body named, but a bureau's report keeps naming its city (any prefecture of the gazetteer)
    ("2023年法治政府建设情况报告", "2023年法治政府建设情况报告\n\n一、主要举措\n我局推进淄博市行政执法公示。淄博市各区县同步实施，"
     "全年完成淄博市执法检查112次，配合济南市开展联合检查。", "", "山东省淄博市"),
    # a signature line names the body
    ("2021年法治政府建设情况报告", "2021年法治政府建设情况报告\n\n一、主要举措\n我局聘请律师担任法律顾问。\n\n佛山市司法局\n2022年1月10日",
     "佛山市司法局", "广东省佛山市"),
    # a report delivered on a body's behalf names it there (cn-work-reports-00086, -00080, -00074)
    ("决胜全面建成小康社会 夺取新时代中国特色社会主义伟大胜利 (十九大)", "决胜全面建成小康社会\n\n——在中国共产党第十九次全国代表大会上的报告"
     "\n\n（2017年10月18日）\n\n同志们：\n\n现在，我代表第十八届中央委员会向大会作报告。", "中国共产党中央委员会", "全国"),
    ("沿着有中国特色的社会主义道路前进 (十三大)", "同志们：\n\n我受十二届中央委员会委托，向大会作报告。\n\n一、历史性成就和这次大会的任务",
     "中国共产党中央委员会", "全国"),
    ("陈独秀在中国共产党第三次全国代表大会上的报告", "現在我代表中央委員會作關於上屆代表會議以來的工作報告。", "中国共产党中央委员会", "全国"),
    ("某区2023年法治政府建设情况报告", "同志们：\n\n我代表区委员会向大会作报告。", "", ""),  # 区委员会 names no place: not a body
])
def test_issuing_body_is_read_only_where_a_name_stands_alone(title, text, body, region):
    meta = extract_metadata(text, title)
    assert (meta.issuing_body, meta.region) == (body, region)


@pytest.mark.parametrize("name, is_body", [
    ("广州市司法局", True), ("第八届全国人民代表大会常务委员会", True), ("交通部公路局", True),
    ("人力资源和社会保障部办公厅", True), ("最高人民法院审判委员会", True),
    ("县级以上地方人民政府", False), ("由国家安全局", False), ("总体布局", False), ("本局", False),
    ("干部管理委员会", False), ("有关部门管理委员会", False), ("市人民政府", False),  # 市 names no city
])
def test_a_body_names_who_it_is(name, is_body):
    assert names_a_body(name) is is_body


@pytest.mark.parametrize("title, text, year", [
    # a congress session in the title dates it, not a year the text looks back to (cn-work-reports-00064)
    ("第二届全国人民代表大会第三次会议关于政府工作报告的决议", "1958年以来，我国各族人民……", "1962"),
    ("第十四届全国人民代表大会第三次会议关于政府工作报告的决议", "会议充分肯定国务院过去一年的工作。", "2025"),
    ("第五届全国人民代表大会第一次会议关于政府工作报告的决议", "会议批准这个报告。", "1978"),
    ("第一届全国人民代表大会第四次会议关于政府工作报告的决议", "会议批准这个报告。", "1957"),
    ("第三届全国人民代表大会第二次会议关于政府工作报告的决议", "会议批准这个报告。", ""),  # never met: no guess
    ("在中国共产党第九次全国代表大会上的报告", "同志们！", "1969"),
    ("全面开创社会主义现代化建设的新局面 (十二大)", "自从一九七六年十月粉碎江青反革命集团以来", "1982"),
    ("2025年中华人民共和国国务院政府工作报告", "在第十四届全国人民代表大会第三次会议上", "2025"),  # the title's year first
    ("广东省第十三届人民代表大会第四次会议关于政府工作报告的决议", "会议批准这个报告。", ""),  # provincial terms vary
])
def test_a_congress_session_in_the_title_gives_the_year(title, text, year):
    assert extract_metadata(text, title).year == year


def test_a_date_line_under_a_speech_title_is_its_date_and_a_tag_of_ten_is_not_a_congress():
    speech = extract_metadata("决胜全面建成小康社会\n\n——在中国共产党第十九次全国代表大会上的报告\n\n（2017年10月18日）\n\n同志们：",
                              "决胜全面建成小康社会 (十九大)")
    assert (speech.year, speech.published) == ("2017", "2017-10-18")
    assert extract_metadata("一、总体情况", "民生实事（十大）工作进展报告").year == ""  # the tag only counts at a title's end


@pytest.mark.parametrize("title, year", [
    ("第一届全国人民代表大会第五次会议关于政府工作报告的决议", "1958"),
    ("在中国共产党第八次全国代表大会第二次会议上的工作报告", ""),  # a later session of a congress: not its year
    ("纪念中国共产党第一次全国代表大会召开的讲话", ""),  # a congress as the topic, not the occasion
    ("关于第十三届全国人民代表大会第一次会议代表名额的决定", ""),
])
def test_only_the_sessions_own_document_takes_its_year(title, year):
    assert extract_metadata("会议批准这个报告。", title).year == year


def test_another_congress_with_a_central_committee_is_not_the_party():
    meta = extract_metadata("同志们：\n\n我代表第十七届中央委员会向大会作报告。中国共产党的领导……",
                            "在中国共产主义青年团第十八次全国代表大会上的报告")
    assert meta.issuing_body == ""  # 中央委员会 alone names no one


def test_a_signature_date_wins_over_a_date_line_under_the_title():
    text = "某局工作报告\n\n（2024年1月5日）\n\n一、主要举措\n我局全年审查合同35份，完成执法检查112次。\n\n某局\n2024年2月1日"
    assert extract_metadata(text, "某局工作报告").published == "2024-02-01"
