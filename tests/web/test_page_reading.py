"""The page a researcher works in all day (issue 16), in real headless Chromium against the real server.

Desktop (1366×900) and phone (390×844, touch): phone layouts, the reading view, keyboard and axe-core,
paging and order, exports, Chinese errors and the first screen. Screenshots land in test-artifacts/browser/.
"""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from tests.conftest import SEEDS
from tests.exports import read_csv_export
from tests.web.test_browser import ARTIFACTS, browser, server  # noqa: F401  (fixtures shared with the other browser tests)
from web.exports import COMPARE_COLUMNS, SEARCH_COLUMNS

pytestmark = pytest.mark.model
DESKTOP = {"viewport": {"width": 1366, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "has_touch": True, "is_mobile": True, "device_scale_factor": 2}


def open_page(browser, server, size: dict):  # noqa: F811
    context = browser.new_context(locale="zh-CN", accept_downloads=True, **size)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.base = server
    return page


@pytest.fixture()
def desk(browser, server):  # noqa: F811
    page = open_page(browser, server, DESKTOP)
    yield page
    assert all(u.startswith(server) for u in page.requests), [u for u in page.requests if not u.startswith(server)]
    page.context.close()


@pytest.fixture()
def phone(browser, server):  # noqa: F811
    page = open_page(browser, server, PHONE)
    yield page
    assert all(u.startswith(server) for u in page.requests), [u for u in page.requests if not u.startswith(server)]
    page.context.close()


def shot(page, name: str, full: bool = False) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)


def top_of(page, selector: str) -> float:
    return page.locator(selector).first.evaluate("e => e.getBoundingClientRect().top")


def header_bottom(page) -> float:
    """Where the sticky header ends on screen (0 when it has scrolled away)."""
    return page.evaluate("Math.max(0, document.querySelector('header.top').getBoundingClientRect().bottom)")


def doc_id(engine, key: str) -> str:
    return next(d["doc_id"] for d in engine.documents() if d["source"] == SEEDS[key])


# -- 1. phone layouts -----------------------------------------------------------------------------
def test_phone_search_first_result_on_first_screen_and_facets_behind_a_button(phone):
    phone.goto(phone.base + "/?q=" + quote("法律顾问"))
    assert phone.locator(".facets").is_hidden()
    assert top_of(phone, ".group") < 844 * 0.6  # the first result starts on the first screen
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391
    shot(phone, "10-phone-search")
    phone.locator(".facet-button").tap()
    assert phone.locator(".facets").is_visible()
    shot(phone, "11-phone-search-filters")
    phone.locator(".facet-button").tap()
    assert phone.locator(".facets").is_hidden()  # tapped again, it folds
    phone.locator("#facet-toggle").focus()  # and the keyboard opens it with Space
    phone.keyboard.press("Space")
    assert phone.locator(".facets").is_visible()
    phone.locator(".facets a", has_text="繁体").first.tap()
    phone.wait_for_url(re.compile("script=traditional"))
    assert phone.locator(".group").count() == 1 and "已选 1 项" in phone.locator(".facet-button").inner_text()


def test_phone_compare_is_cards_whose_labels_match_their_cells(phone):
    phone.goto(phone.base + "/compare?q=" + quote("公平竞争审查"))
    headers = phone.locator("table.compare thead th").all_inner_texts()
    for row in phone.locator("table.compare tbody tr").all():
        cells = row.locator("td")
        assert [cells.nth(i).get_attribute("data-label") for i in range(cells.count())] == headers
    cell = phone.locator("td.passage-cell").first
    assert cell.evaluate("e => e.getBoundingClientRect().width") > 300  # not one character wide
    assert phone.evaluate("document.documentElement.scrollWidth") <= 391
    assert phone.locator("input[name=q]").count() == 1  # one query box on compare
    shot(phone, "12-phone-compare")


def test_compare_expands_every_relevant_passage_of_a_row(desk):
    desk.goto(desk.base + "/compare?q=" + quote("公平竞争审查"))
    details = desk.locator("details.others").first
    assert details.locator(".other").first.is_hidden()
    details.locator("summary").click()
    others = details.locator(".other")
    assert others.first.is_visible() and others.count() >= 1
    assert others.first.locator("mark").count() >= 1  # it contains the query's words
    shot(desk, "13-compare-expanded")


# -- 2. the document view --------------------------------------------------------------------------
def test_document_from_a_result_highlights_the_query_and_keeps_heading_and_toc_in_view(desk):
    desk.goto(desk.base + "/?q=" + quote("法律顾问"))
    desk.locator(".hit .actions a", has_text="查看原文").nth(1).click()
    desk.wait_for_selector(".document")
    assert "q=" in desk.url
    target = desk.locator(".passage.focus")
    heading = target.locator(".between, .crumbs").first
    assert heading.is_visible()
    assert heading.evaluate("e => e.getBoundingClientRect().top") >= top_of(desk, ".findbar") + 30  # under the bars
    assert header_bottom(desk) <= top_of(desk, ".findbar") + 1
    status = desk.locator("#hit-status")
    total = int(re.search(r"共 (\d+) 处", status.inner_text()).group(1))
    assert total >= 3 and desk.locator("#doc-text mark").count() == total
    desk.locator("#hit-next").click()
    assert status.inner_text() == f"第 1 / {total} 处"
    desk.keyboard.press("n")
    assert status.inner_text() == f"第 2 / {total} 处"
    current = desk.locator("mark.current")
    assert current.get_attribute("id") == "hit-2"
    assert header_bottom(desk) < current.evaluate("e => e.getBoundingClientRect().top") < 900
    desk.keyboard.press("Shift+N")
    desk.keyboard.press("Shift+N")
    assert status.inner_text() == f"第 {total} / {total} 处"  # previous wraps round
    desk.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    toc = desk.locator(".toc").evaluate("e => e.getBoundingClientRect().toJSON()")
    assert toc["top"] >= header_bottom(desk) - 1 and toc["top"] < 200  # the TOC stays on screen
    # the header paints above the text it floats over
    covered = desk.evaluate("""(() => { const h = document.querySelector('header.top').getBoundingClientRect();
        const el = document.elementFromPoint(h.left + 300, h.top + 5); return !!el.closest('header'); })()""")
    assert covered
    shot(desk, "14-document-hits")


def test_phone_document_header_toc_drawer_and_touch_selection(phone, engine):
    did = doc_id(engine, "jm_ict_2024")
    phone.goto(f"{phone.base}/documents/{did}?q={quote('法律顾问')}&p={did}-0010#{did}-0010")
    heading = phone.locator(".passage.focus").locator(".between, .crumbs").first
    assert heading.evaluate("e => e.getBoundingClientRect().top") >= top_of(phone, ".findbar") + 30
    assert header_bottom(phone) == 0  # the phone header scrolled away: it covers nothing
    shot(phone, "15-phone-document")
    assert phone.locator(".toc").is_hidden()
    phone.locator(".toc-button").tap()
    assert phone.locator(".toc").is_visible()
    shot(phone, "16-phone-toc-drawer")
    link = phone.locator(".toc a").nth(3)
    target = link.get_attribute("href").split("#")[1]
    link.tap()
    phone.wait_for_url(re.compile(target))
    assert phone.locator(".toc").is_hidden()  # choosing a heading closes the drawer
    top = phone.locator(f"[id='{target}']").evaluate("e => e.getBoundingClientRect().top")
    assert 0 <= top < 200
    # a touch selection fires selectionchange only (no mouseup): the panel must still appear
    phone.locator(".passage p", has_text="良匠律师事务所").first.evaluate("""p => {
        const r = document.createRange(); r.selectNodeContents(p);
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); }""")
    form = phone.locator("#selection-form")
    form.wait_for(state="visible")
    assert "已选" in form.inner_text()
    box = form.locator("button").bounding_box()
    assert box["height"] >= 44  # a touch target
    shot(phone, "17-phone-selection")
    form.locator("button").tap()
    phone.wait_for_selector(".source blockquote")
    assert "良匠律师事务所" in phone.locator("blockquote").inner_text()


def test_find_similar_from_a_keyboard_selection(desk, engine):
    did = doc_id(engine, "jm_ict_2024")
    desk.goto(f"{desk.base}/documents/{did}")
    desk.locator(".passage p", has_text="良匠律师事务所").first.evaluate("""p => {
        const r = document.createRange(); r.setStart(p.firstChild, 0); r.setEnd(p.firstChild, 30);
        const s = window.getSelection(); s.removeAllRanges(); s.addRange(r); }""")
    desk.locator("#selection-form").wait_for(state="visible")
    desk.keyboard.press("s")  # S sends the selection
    desk.wait_for_selector(".source blockquote")
    assert desk.locator(".group").count() >= 2


# -- 3. keyboard and screen readers ----------------------------------------------------------------
def test_skip_link_reaches_the_first_result_in_a_few_keys(desk):
    desk.goto(desk.base + "/?q=" + quote("法律顾问"))
    desk.keyboard.press("Tab")
    assert desk.evaluate("document.activeElement.className") == "skip"
    assert desk.locator(".skip").is_visible()  # it shows when focused
    shot(desk, "18-skip-link")
    desk.keyboard.press("Enter")
    for presses in range(1, 6):
        desk.keyboard.press("Tab")
        if desk.evaluate("document.activeElement.textContent") == "相似举措":
            break
    assert presses <= 3, presses
    desk.keyboard.press("Enter")
    desk.wait_for_selector(".source blockquote")
    assert desk.locator("input[name=q]").input_value() == "法律顾问"  # the similar page keeps the query


def axe_pages(engine) -> dict[str, str]:
    did = doc_id(engine, "jm_ict_2024")
    return {
        "home": "/", "search": "/?q=" + quote("法律顾问"),
        "search-filtered": "/?q=" + quote("法律顾问") + "&script=traditional&year_from=2018&year_to=2020",
        "search-paged": "/?q=" + quote("法律") + "&per_doc=0&sort=date&page=2",
        "compare-empty": "/compare", "compare": "/compare?q=" + quote("公平竞争审查"),
        "document": f"/documents/{did}?q={quote('法律顾问')}&p={did}-0006",
        "documents": "/documents", "similar": f"/similar?passage_id={did}-0006",
        "error-400": "/?q=" + quote("法律") + "&year_from=abc", "error-404": "/nope",
    }


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_axe_finds_no_serious_or_critical_violation_on_any_page(browser, server, engine, size):  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    page = open_page(browser, server, DESKTOP if size == "desktop" else PHONE)
    found = {}
    for name, path in axe_pages(engine).items():
        page.goto(server + path)
        violations = axe.run(page).response["violations"]
        bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]]) for v in violations
               if v["impact"] in ("serious", "critical")]
        if bad:
            found[name] = bad
    # the states a reader opens: the filter and TOC drawers on a phone, a compare row's other passages
    opened = {"facets open": ("/?q=" + quote("法律顾问"), ".facet-button"),
              "toc drawer": (axe_pages(engine)["document"], ".toc-button"),
              "compare expanded": ("/compare?q=" + quote("公平竞争审查"), "details.others summary"),
              "more from this report": ("/?q=" + quote("法律") + "&per_doc=1", "details.more-doc summary")}
    for name, (path, control) in opened.items():
        page.goto(server + path)
        if page.locator(control).first.is_visible():
            page.locator(control).first.click()
            page.wait_for_load_state("networkidle")
            bad = [(v["id"], v["impact"]) for v in axe.run(page).response["violations"]
                   if v["impact"] in ("serious", "critical")]
            if bad:
                found[name] = bad
    assert all(u.startswith(server) for u in page.requests)  # axe is injected, not fetched
    page.context.close()
    assert not found, found


# -- 4. depth and order ----------------------------------------------------------------------------
def test_paging_sort_and_year_range(desk):
    desk.goto(desk.base + "/?q=" + quote("法律") + "&per_doc=0")
    summary = desk.locator(".summary").inner_text()
    total, pages = map(int, re.search(r"共 (\d+) 个段落，第 1 / (\d+) 页", summary).groups())
    assert total > 20 and pages == -(-total // 20)
    first_ids = set(desk.locator(".hit").evaluate_all("hs => hs.map(h => h.dataset.passageId)"))
    desk.locator(".pager a", has_text="下一页").click()
    desk.wait_for_url(re.compile("page=2"))
    assert "第 2 / " in desk.locator(".summary").inner_text()
    assert not first_ids & set(desk.locator(".hit").evaluate_all("hs => hs.map(h => h.dataset.passageId)"))
    shot(desk, "19-page-2")
    desk.goto(desk.base + "/?q=" + quote("法律顾问"))
    desk.locator("select[name=sort]").select_option("date")
    desk.locator(".refine input[name=year_from]").fill("2019")
    desk.locator(".refine input[name=year_to]").fill("2024")
    desk.locator(".refine button").click()
    desk.wait_for_url(re.compile("sort=date"))
    metas = desk.locator(".group .meta").all_inner_texts()
    years = [int(re.search(r"(\d{4})年", m).group(1)) for m in metas]
    assert years and all(2019 <= y <= 2024 for y in years), metas
    dates = [re.search(r"发布于 ([\d-]+)", m).group(1) if "发布于" in m else f"{y}" for m, y in zip(metas, years)]
    assert dates == sorted(dates, reverse=True), dates  # newest first
    assert "2018" not in " ".join(metas)
    shot(desk, "20-sorted-by-date")


def test_more_from_this_report_opens_its_hits(desk):
    desk.goto(desk.base + "/?q=" + quote("法律") + "&per_doc=1")
    more = desk.locator("details.more-doc").first
    n = int(re.search(r"另有 (\d+) 个", more.locator("summary").inner_text()).group(1))
    shown = set(more.locator("xpath=..").locator(":scope > .hit").evaluate_all("hs => hs.map(h => h.dataset.passageId)"))
    more.locator("summary").click()  # it expands in place
    more.locator(".more-body .hit").first.wait_for()
    extra = more.locator(".more-body .hit").evaluate_all("hs => hs.map(h => h.dataset.passageId)")
    assert len(extra) == n and not shown & set(extra)
    shot(desk, "24-more-from-this-report")
    more.locator("a", has_text="在原文中逐一查看").click()
    desk.wait_for_selector("#hit-status")
    assert desk.locator("#hit-status").inner_text().startswith("第 1 / ")  # it lands on the first hit
    assert desk.locator("#doc-text mark").count() >= n


# -- 5. export what you see ------------------------------------------------------------------------
def test_search_and_compare_export_as_csv_and_xlsx(desk):
    from openpyxl import load_workbook

    desk.goto(desk.base + "/?q=" + quote("法律顾问") + "&script=simplified&sort=region")
    with desk.expect_download() as info:
        desk.locator(".summary a", has_text="导出 Excel").click()
    name = info.value.suggested_filename
    assert "法律顾问" in name and date.today().isoformat() in name and name.endswith(".xlsx")
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    cells = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    about = {row[0]: row[1] for row in cells[: next(i for i, r in enumerate(cells) if not any(r))]}
    assert about["检索词"] == "法律顾问" and about["文字"] == "简体" and about["排序"] == "地区"
    assert unquote(about["链接"]).startswith(desk.base + "/?q=法律顾问")
    header = next(i for i, r in enumerate(cells) if r and r[0] == "序号")
    assert list(cells[header]) == list(SEARCH_COLUMNS.values())
    rows = cells[header + 1:]
    assert len(rows) == desk.locator(".hit").count()
    assert [r[7] for r in rows] == desk.locator(".hit .text").all_inner_texts()  # what the page shows, in its order
    with desk.expect_download() as info:
        desk.locator(".summary a", has_text="导出 CSV").click()
    about, csv_rows = read_csv_export(Path(info.value.path()).read_text(encoding="utf-8-sig"), SEARCH_COLUMNS)
    assert about["检索词"] == "法律顾问" and len(csv_rows) == len(rows)
    desk.goto(desk.base + "/compare?q=" + quote("公平竞争审查"))
    desk.locator(".compare-form select[name=sort]").select_option("region")
    desk.locator(".compare-form button").click()
    desk.wait_for_url(re.compile("sort=region"))
    regions = desk.locator("table.compare tbody td:nth-child(3)").all_inner_texts()
    known = [r for r in regions if r != "—"]
    assert known == sorted(known) and regions[len(known):] == ["—"] * (5 - len(known))  # unknown region last
    with desk.expect_download() as info:
        desk.locator(".summary a", has_text="导出 Excel").click()
    assert info.value.suggested_filename.startswith("对比-公平竞争审查-")
    sheet = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes())).active
    values = [r for r in sheet.iter_rows(values_only=True)]
    header = values.index(tuple(COMPARE_COLUMNS.values()))
    assert len(values) - header - 1 == 5 and [r[2] or "—" for r in values[header + 1:]] == regions
    assert ("排序", "地区") in [r[:2] for r in values]


# -- 6. errors and limits --------------------------------------------------------------------------
def test_errors_and_long_queries_speak_chinese(desk):
    response = desk.goto(desk.base + "/?q=" + quote("法律") + "&year_from=abc")
    assert response.status == 400
    assert "请求参数有误" in desk.locator("h1").inner_text() and "起始年份" in desk.locator(".error").inner_text()
    shot(desk, "21-error-400")
    response = desk.goto(desk.base + "/nope")
    assert response.status == 404 and "找不到" in desk.locator("h1").inner_text()
    assert re.search(r"[A-Za-z]{4,}", desk.locator(".error").inner_text()) is None  # no English left
    desk.goto(desk.base + "/?q=" + quote("法律顾问" * 150))
    note = desk.locator(".note")
    assert note.is_visible() and "已截取前 500 个字" in note.inner_text()


# -- 7. a first screen that teaches ----------------------------------------------------------------
def test_first_screen_offers_the_corpus_own_topics_and_the_script_hint(desk, phone):
    desk.goto(desk.base + "/")
    examples = desk.locator(".examples a")
    assert examples.count() >= 3
    assert "繁体" in desk.locator(".intro .hint").inner_text()
    shot(desk, "22-home")
    phone.goto(phone.base + "/")
    shot(phone, "23-phone-home")
    topic = examples.first.inner_text()
    examples.first.click()
    desk.wait_for_selector(".group")
    assert desk.locator(".searchbox input[name=q]").input_value() == topic
    assert desk.locator(".group mark").count() >= 1  # an example finds reports that use its words
