"""Site chrome and spam removal on the seeds' real pages."""

from indexer.clean import clean_text, is_spam_line


def test_simplified_page_chrome_removed(seed_text):
    text = clean_text(seed_text("gz_ict_2019"))
    assert "无障碍辅助浏览" not in text and "简体版" not in text
    assert "字体" not in text and "信息来源" not in text
    assert text.startswith("广州市工业和信息化局2019年度法治政府建设工作报告")
    assert "充分发挥局常年法律顾问机制作用" in text


def test_traditional_page_chrome_and_lottery_spam_removed(seed_text):
    raw = seed_text("gz_gov_2018_trad")
    text = clean_text(raw)
    for junk in ("彩神8快3下載", "您當前的位置", "發布時間", "轉載時間", "來源網站", "Wellcome", "快3彩票", "•"):
        assert junk in raw
        assert junk not in text, junk
    assert "全麵建設法治政府" in text  # the report's last sentence survives, as written


def test_spam_words_inside_a_real_paragraph_are_kept():
    paragraph = "加强对福利彩票和体育彩票销售网点的监督检查，依法查处违规销售行为，" * 3
    assert not is_spam_line(paragraph)
    assert paragraph.strip() in clean_text("彩神8快3下載\n" + paragraph)


def test_a_title_or_quotation_broken_over_lines_is_one_line_again():
    page = "其他具有立法性质的文件。根据《\n中华人民共和国著作权法\n》第五条，不适用该法。\n\n他说过：“\n要搞马列主义，不要搞修正主义。”"
    assert clean_text(page) == ("其他具有立法性质的文件。根据《中华人民共和国著作权法》第五条，不适用该法。\n\n"
                                "他说过：“要搞马列主义，不要搞修正主义。”")
    untouched = "一、总体情况\n《条例》施行以来，我局认真贯彻。"  # a line may start with 《, only 》 joins back
    assert clean_text(untouched) == untouched
