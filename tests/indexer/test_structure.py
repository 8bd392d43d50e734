"""Heading paths, measure splitting and regulation articles on the seeds and small samples."""

import pytest

from indexer.clean import clean_text
from indexer.structure import MAX_PASSAGE_CHARS, heading_level, parse_passages, split_long


def passages_of(text):
    clean = clean_text(text)
    return clean, parse_passages(clean)


def find(clean, passages, needle):
    hits = [p for p in passages if needle in clean[p.start : p.end]]
    assert hits, f"no passage contains {needle!r}"
    return hits[0]


@pytest.mark.parametrize("key", ["gz_ict_2019", "jm_ict_2024", "gd_ict_plan_2020", "gz_gov_2018_trad", "bureau_2022"])
def test_every_seed_splits_into_bounded_passages_with_exact_spans(seed_text, key):
    clean, passages = passages_of(seed_text(key))
    assert len(passages) >= 15
    for p in passages:
        body = clean[p.start : p.end]
        assert body == body.strip() and body
        assert len(body) <= MAX_PASSAGE_CHARS
    starts = [p.start for p in passages]
    assert starts == sorted(starts)


def test_half_width_brackets_and_measures_keep_parent_heading_path(seed_text):
    clean, passages = passages_of(seed_text("gz_ict_2019"))
    p = find(clean, passages, "四是充分发挥局常年法律顾问机制作用")
    assert p.kind == "measure"
    assert p.heading_path == ["一、总体推进情况", "(四)推进行政决策科学化民主化法治化"]
    assert clean[p.start : p.end].startswith("四是")
    fair = find(clean, passages, "三是全面落实公平竞争审查制度")
    assert fair.heading_path == p.heading_path and fair is not p


def test_measure_inside_long_paragraph_becomes_its_own_passage(seed_text):
    clean, passages = passages_of(seed_text("jm_ict_2024"))
    p = find(clean, passages, "聘请广东良匠律师事务所法律顾问团队")
    body = clean[p.start : p.end]
    assert body.startswith("三是充分发挥法律顾问单位") and "公平竞争审查" not in body
    assert p.heading_path[-1].startswith("(二)增强政策制定的科学性与有效性")


def test_traditional_report_headings(seed_text):
    clean, passages = passages_of(seed_text("gz_gov_2018_trad"))
    p = find(clean, passages, "廣州市人民政府法律顧問室工作規則")
    assert p.heading_path == ["五、完善行政決策機製,提高科學民主決策水平", "(三)完善政府法律顧問管理機製"]


def test_signature_salutation_and_title_lines_are_not_passages(seed_text):
    clean, passages = passages_of(seed_text("jm_ict_2024"))
    bodies = [clean[p.start : p.end] for p in passages]
    for line in ("市政府:", "专此报告。", "江门市工业和信息化局", "2024年12月4日"):
        assert line not in bodies


def test_work_plan_item_whose_body_is_only_the_responsible_unit_keeps_its_sentence(seed_text):
    clean, passages = passages_of(seed_text("gd_ict_plan_2020"))
    p = find(clean, passages, "建立完善执法决策风险评估机制")
    assert p.heading_path[-1].startswith("(十二)")


def test_short_paragraph_with_measures_stays_whole():
    text = "一、总体情况\n一是学法。二是普法。三是用法，全面提升能力。"
    passages = parse_passages(text)
    assert len(passages) == 1 and passages[0].kind == "paragraph"


def test_regulation_chapters_and_articles_with_items():
    text = (
        "某市行政规范性文件管理办法\n第一章 总则\n第一条 为了加强行政规范性文件管理，根据有关法律法规，结合本市实际，制定本办法。\n"
        "第二条 本办法适用于本市各级行政机关制定行政规范性文件的活动，包括下列事项：\n（一）起草、审核和决定；\n（二）公布、备案和清理。\n"
        "第二章 制定程序\n第三条 起草部门应当对制定行政规范性文件的必要性和可行性进行调查研究，广泛听取意见。\n"
    )
    passages = parse_passages(text)
    assert [p.heading_path for p in passages] == [
        ["第一章 总则", "第一条"], ["第一章 总则", "第二条"], ["第二章 制定程序", "第三条"],
    ]
    assert all(p.kind == "article" for p in passages)
    assert "（二）公布、备案和清理" in text[passages[1].start : passages[1].end]


def test_taiwan_style_numbered_articles():
    text = "第 1 章 總則\n第 1 條 為保障人民權益，提升行政效能，特制定本法律並規範相關程序事項。\n第 2 條 本法所稱主管機關，在中央為法務部，在直轄市為直轄市政府，在縣市為縣市政府。"
    passages = parse_passages(text)
    assert [p.heading_path for p in passages] == [["第 1 章 總則", "第1條"], ["第 1 章 總則", "第2條"]]


@pytest.mark.parametrize("line,level", [
    ("一、总体推进情况", 4), ("（一）加强领导", 5), ("(二)推进改革", 5), ("1.完善制度", 6),
    ("（1）建立机制", 7), ("第三章 法律责任", 2), ("2019年以来，我局", None), ("12345热线", None),
])
def test_heading_levels(line, level):
    assert heading_level(line) == level


def test_split_long_cuts_at_sentence_ends_within_the_limit():
    text = "这是一个句子。" * 100
    pieces = split_long(0, len(text), text, limit=50)
    assert "".join(text[a:b] for a, b in pieces) == text
    assert all(b - a <= 50 and text[b - 1] == "。" for a, b in pieces)


def test_a_sentence_longer_than_the_limit_is_cut_at_a_clause_and_never_after_an_opener():
    clauses = "推进严格规范公正文明执法，" * 10 + "完善制度。"  # one sentence, 13-character clauses
    pieces = split_long(0, len(clauses), clauses, limit=50)
    assert "".join(clauses[a:b] for a, b in pieces) == clauses
    assert all(b - a <= 50 for a, b in pieces) and all(clauses[b - 1] in "，。" for a, b in pieces)
    no_commas = "甲" * 48 + "《" + "乙" * 30 + "》" + "丙" * 40 + "。"  # the limit falls right after 《
    pieces = split_long(0, len(no_commas), no_commas, limit=49)
    assert "".join(no_commas[a:b] for a, b in pieces) == no_commas
    assert all(no_commas[b - 1] != "《" for a, b in pieces) and all(b - a <= 49 for a, b in pieces)


def test_short_text_without_headings_is_one_passage():
    text = "依法成立的合同，受法律保护。\n\n依法成立的合同，仅对当事人具有法律约束力，但是法律另有规定的除外。\n"
    (p,) = parse_passages(text)
    assert text[p.start : p.end] == text.strip()


def test_markdown_and_word_heading_lines_are_headings():
    text = "# 某局2020年工作总结\n## 加强组织领导\n建立依法行政领导机制，对重点工作进行集体审议，推动各项工作落实落地。\n## 一、深化改革\n（一）推进审批改革。压缩办理时限，提升网上办理率，实现即件办理和全流程网上办理。"
    passages = parse_passages(text)
    assert [p.heading_path for p in passages] == [
        ["某局2020年工作总结", "加强组织领导"], ["一、深化改革", "（一）推进审批改革"],
    ]


def test_list_items_after_a_colon_continue_their_paragraph():
    text = ("一、主要措施\n（一）严格规范执法。执法机关应当履行下列义务：\n（一）公开执法依据；\n（二）全程记录执法过程；\n"
            "（三）重大执法决定须经法制审核。\n（二）加强监督。建立执法监督平台，定期通报执法情况，接受社会监督和群众评议。")
    passages = parse_passages(text)
    first = text[passages[0].start : passages[0].end]
    assert first.startswith("执法机关应当履行下列义务") and first.endswith("重大执法决定须经法制审核。")
    assert [p.heading_path[-1] for p in passages] == ["（一）严格规范执法", "（二）加强监督"]


def test_short_article_made_of_list_items_is_kept_whole():
    text = "下列财产为夫妻一方的个人财产：\n\n（一）一方的婚前财产；\n\n（二）遗嘱或者赠与合同中确定只归一方的财产；\n\n（三）一方专用的生活用品。"
    (p,) = parse_passages(text)
    assert text[p.start : p.end] == text.strip()


def test_a_short_ordinal_line_over_its_paragraphs_is_a_heading_but_a_run_of_them_is_a_list():
    # as the government work reports lay out a section (2004年国务院政府工作报告)
    report = ("二、2004年主要任务\n\n第一，保护和提高粮食综合生产能力。\n\n实行最严格的耕地保护制度，依法加强耕地管理，坚决制止乱占滥用耕地。\n\n"
              "第二，继续推进农村税费改革。\n\n逐步降低农业税税率，五年内取消农业税，今年农业税税率总体上降低一个百分点。\n\n"
              "三、今年要把握好以下几点\n\n第一，坚持稳中求进，保持政策连续性和稳定性，增强前瞻性。\n\n第二，坚持深化改革开放，激发市场活力和社会创造力。\n\n"
              "第三，坚持改善民生。\n\n各级政府要把保障和改善民生作为工作的出发点和落脚点，办好群众急难愁盼的事情。")
    passages = parse_passages(report)
    got = [(p.heading_path, report[p.start:p.end][:8]) for p in passages]
    assert got == [
        (["二、2004年主要任务", "第一，保护和提高粮食综合生产能力"], "实行最严格的耕地"),
        (["二、2004年主要任务", "第二，继续推进农村税费改革"], "逐步降低农业税税"),
        # items with nothing between them stay text
        (["三、今年要把握好以下几点"], "第一，坚持稳中求"),
        (["三、今年要把握好以下几点"], "第二，坚持深化改"),
        # the list's last item is no heading, though a paragraph follows (and too short to be a passage of its own)
        (["三、今年要把握好以下几点"], "各级政府要把保障"),
    ]


def test_an_ordinal_item_written_as_a_paragraph_closes_the_previous_items_section():
    report = ("一、加强政府自身建设\n\n第一，精简机构。\n\n按照精简、统一、效能的原则，完善机构设置，严格控制编制。\n\n"
              "第二，转变职能，这一项写成了一个很长的段落，说明政府要把不该管的事交给市场和社会，切实做到政企分开。\n\n"
              "第三，加强作风建设。\n\n各级政府要密切联系群众，坚决反对形式主义和官僚主义，切实减轻基层负担。\n\n"
              "1．推进依法行政\n\n第一，完善行政决策。\n\n健全重大行政决策程序，落实公众参与、专家论证和合法性审查。")
    got = [(p.heading_path, report[p.start:p.end][:6]) for p in parse_passages(report)]
    assert got == [
        (["一、加强政府自身建设", "第一，精简机构"], "按照精简、统"),
        (["一、加强政府自身建设"], "第二，转变职"),  # no longer under 第一
        (["一、加强政府自身建设", "第三，加强作风建设"], "各级政府要密"),  # after a long item, a heading again
        (["一、加强政府自身建设", "1．推进依法行政", "第一，完善行政决策"], "健全重大行政"),  # 第一 stays inside 1.
    ]
