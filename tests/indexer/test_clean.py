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


# The end of cn-work-reports-00001 as Wikisource serves it (the licence template's lines as scraped).
RESOLUTION_WITH_LICENCE = (
    "第十四届全国人民代表大会第三次会议关于政府工作报告的决议\n\n"
    "会议号召，全国各族人民更加紧密地团结在党中央周围，共同书写中国式现代化新篇章！\n\n"
    "本作品来自中华人民共和国全国人民代表大会及其常务委员会的决定、决议。依据《\n中华人民共和国著作权法\n"
    "》第五条，本作品不适用于该法，所以属于\n公有领域\n。\n\n本模板所指的决定包括由中华人民共和国主席令公布的修改或废止法律的决定。\n\n"
    "Public domain\nPublic domain\nfalse\nfalse\n"
)


def test_a_licence_notice_under_the_text_is_cut_to_the_end():
    text = clean_text(RESOLUTION_WITH_LICENCE)
    assert text.endswith("共同书写中国式现代化新篇章！")
    for junk in ("本作品", "公有领域", "Public domain", "false", "本模板"):
        assert junk not in text, junk


def test_the_anonymous_works_licence_is_cut_too():
    page = ("5．与士兵的联系\n\n对待他们要特别谨慎。\n\n这部作品在1931年1月1日以前以匿名或別名發表，確實作者身份不明（包括僅以法人名義發表），"
            "在美國以及版權期限是匿名別名作品發表起95年以下的國家以及地区屬於公有領域。")
    assert clean_text(page) == "5．与士兵的联系\n\n对待他们要特别谨慎。"


def test_a_sentence_that_opens_like_a_licence_but_goes_on_is_kept():
    # 本作品是… in the body, followed by the rest of a long report: not a footer, whatever it mentions later
    body = "本作品是我局组织编写的普法读本，已向全市发放。" + "我局持续深化法治宣传教育，完善普法责任清单。" * 150
    page = "一、普法工作\n" + body + "\n二、下一步计划\n加强著作权法宣传，保护版权。"
    assert clean_text(page) == page


def test_a_government_site_footer_is_dropped_but_sentences_on_copyright_and_filing_are_kept():
    report = ("二、主要举措\n督促辖区网站完成ICP备案信息核验，依法查处未备案网站12家。\n"
              "我局网站备案号为粤ICP备05012345号，已在首页公示。\n版权所有人可以许可他人行使著作权。\n"
              "指导各单位标注网站标识码并在全省范围内推广使用。")
    page = report + "\n版权所有：广州市工业和信息化局\n粤ICP备12345678号 粤公网安备44010402001234号\n网站标识码：4401000012"
    assert clean_text(page) == report


def test_a_sentence_broken_by_inline_links_and_footnote_marks_is_whole_again():
    # as the Wikisource pages of the work reports render links and notes: each on a line of its own
    page = ("第九次全国代表大会的报告\n\n同志们！\n\n这个伟大的革命风暴，摧毁了以叛徒、内奸、工贼\n刘少奇\n为首的资产阶级司令部。\n\n"
            "会议听取和审议了国务院总理所作的\n政府工作报告\n。会议决定批准这个报告。\n\n"
            "现在我代表中央委员会作关于上届代表会议\n[\n1\n]\n以来的工作报告。\n\n"
            "地级及以上城市细颗粒物（\nPM\n2.5\n）平均浓度下降9.1%。")
    assert clean_text(page).split("\n\n") == [
        "第九次全国代表大会的报告", "同志们！", "这个伟大的革命风暴，摧毁了以叛徒、内奸、工贼刘少奇为首的资产阶级司令部。",
        "会议听取和审议了国务院总理所作的政府工作报告。会议决定批准这个报告。",
        "现在我代表中央委员会作关于上届代表会议以来的工作报告。", "地级及以上城市细颗粒物（PM2.5）平均浓度下降9.1%。"]


def test_line_breaks_that_end_a_paragraph_or_a_heading_stay():
    # one paragraph a line, no blank lines: a short line is a line of its own (a title, a signature, a formula's
    # index), and a heading never joins what follows it
    page = ("广州市司法局2021年工作报告\n一、主要举措，总体情况\n我局聘请律师担任法律顾问，全年审查合同35份\n广州市司法局\n"
            "2022年1月10日")
    assert clean_text(page) == page
    formula = "λ＜20  時，σk＝σca\n1\n20≦λ≦200 時，σk ＝─σca"
    assert clean_text(formula) == formula


def test_labelled_lines_bullets_and_markdown_headings_never_join():
    # a text with blank lines between its paragraphs, where short lines inside a sentence are joined
    page = ("联系人：张三，李四\n电话：020-83331234\n\n主送：各区人民政府，市直各单位\n抄送：市委办公厅\n广州市人民政府办公厅2024年1月5日印发\n\n"
            "全年地区生产总值增长，同比增长5%\n## 存在问题\n\n- 加强组织领导，明确责任分工\n- 强化督查考核\n- 严格责任追究")
    assert clean_text(page).split("\n") == [
        "联系人：张三，李四", "电话：020-83331234", "", "主送：各区人民政府，市直各单位", "抄送：市委办公厅",
        "广州市人民政府办公厅2024年1月5日印发", "", "全年地区生产总值增长，同比增长5%", "## 存在问题", "",
        "加强组织领导，明确责任分工", "强化督查考核", "严格责任追究"]


def test_only_a_bracketed_number_is_a_footnote_mark_and_a_licence_needs_its_words():
    page = "我们出版了日报\n↑\n5\n10\n篇文章已刊发。"
    assert "5" in clean_text(page) and "10" in clean_text(page)
    contest = "一、获奖情况\n\n我局选送的作品获得全省摄影比赛一等奖。\n\n本作品在构图上别具匠心，版权归作者所有。\n\n另获二等奖两项。"
    assert clean_text(contest) == contest
