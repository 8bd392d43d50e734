"""The web page used as a person would, in real headless Chromium (Playwright) against the real server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, SEEDS, threaded_server
from tests.exports import read_csv_export
from web.api import COMPARE_COLUMNS

pytestmark = pytest.mark.model
CHROMIUM = os.environ.get("FAZHI_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="module")
def server(engine):
    """The real app on waitress, on a free port of 127.0.0.1."""
    from web import create_app

    with threaded_server(create_app(engine=engine)) as port:
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium driven by Playwright (its own browser download does not work offline)."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright's Python package is not installed")
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium (scripts/test.sh does)")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def page(browser, server):
    """A fresh page that records every request it makes."""
    context = browser.new_context(viewport={"width": 1200, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.requests = []
    page.on("request", lambda request: page.requests.append(request.url))
    page.base = server
    yield page
    context.close()


def shot(page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def search(page, query: str) -> None:
    page.goto(page.base + "/")
    box = page.locator("input[name=q]").first
    box.fill(query)
    box.press("Enter")
    page.wait_for_selector(".group")


def test_search_shows_one_group_per_report_including_traditional(page):
    search(page, "法律顾问")
    groups = page.locator(".group")
    titles = [groups.nth(i).locator("h2").inner_text() for i in range(groups.count())]
    assert any("廣州市人民政府關於" in t for t in titles), titles
    assert groups.count() >= 4
    assert page.locator(".group mark").count() > 4
    assert "q=%E6%B3%95%E5%BE%8B%E9%A1%BE%E9%97%AE" in page.url  # shareable URL
    shot(page, "01-search")
    page.go_back()
    assert page.locator(".intro").is_visible()  # the back button returns to the empty page


def test_find_similar_from_a_result(page):
    search(page, "聘请律师事务所法律顾问团队")
    page.locator(".hit .actions a", has_text="相似举措").first.click()
    page.wait_for_selector(".source blockquote")
    assert page.locator(".group").count() >= 2
    assert "法律顾问" in page.locator(".results, main").first.inner_text() or page.locator(".group mark").count()
    shot(page, "02-similar")


def test_select_text_in_document_and_ask_for_similar(page, engine):
    doc_id = next(d["doc_id"] for d in engine.documents() if d["source"] == SEEDS["jm_ict_2024"])
    page.goto(f"{page.base}/documents/{doc_id}")
    assert page.locator(".toc li").count() > 5  # table of contents from the headings
    paragraph = page.locator(".passage p", has_text="良匠律师事务所").first
    paragraph.evaluate("""p => {
        const range = document.createRange(); range.selectNodeContents(p);
        const sel = window.getSelection(); sel.removeAllRanges(); sel.addRange(range);
        document.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}));
    }""")
    form = page.locator("#selection-form")
    assert form.is_visible()
    page.keyboard.press("Escape")
    assert not form.is_visible()  # Esc closes the panel
    paragraph.evaluate("p => document.dispatchEvent(new MouseEvent('mouseup', {bubbles: true}))")
    shot(page, "03-document-selection")
    form.locator("button").click()
    page.wait_for_selector(".source blockquote")
    assert "良匠律师事务所" in page.locator("blockquote").inner_text()
    assert page.locator(".group").count() >= 2
    shot(page, "04-similar-from-selection")


def test_facet_filter_narrows_and_clears(page):
    search(page, "法律顾问")
    page.locator(".facets a", has_text="繁体").first.click()
    page.wait_for_selector(".chip")
    assert page.locator(".group").count() == 1
    assert "script=traditional" in page.url
    shot(page, "05-filtered")
    page.locator(".facets a", has_text="清除筛选").click()
    assert page.locator(".group").count() >= 4


def test_compare_view_and_csv_export(page):
    search(page, "公平竞争审查")
    page.locator(".summary a", has_text="各单位对比").click()
    page.wait_for_selector("table.compare")
    assert page.locator("table.compare tbody tr").count() == 5
    shot(page, "06-compare")
    with page.expect_download() as info:
        page.locator("a", has_text="导出 CSV").click()
    text = Path(info.value.path()).read_text(encoding="utf-8-sig")
    _, rows = read_csv_export(text, COMPARE_COLUMNS)
    assert len(rows) == 5 and rows[0]["rank"] == "1" and "公平" in "".join(r["text"] for r in rows)


def test_phone_width_keyboard_no_external_requests_and_page_weight(page):
    page.set_viewport_size({"width": 390, "height": 844})
    sizes = {}
    page.on("response", lambda r: sizes.__setitem__(r.url, len(r.body())) if r.ok else None)
    page.goto(page.base + "/")
    assert page.evaluate("document.activeElement.name") == "q"  # the search box has focus on arrival
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"  # and Tab reaches the button
    page.locator("input[name=q]").first.fill("法律顾问")
    page.keyboard.press("Enter")  # Enter searches
    page.wait_for_selector(".group")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390 + 1  # nothing wider than the phone
    shot(page, "07-phone")
    assert all(url.startswith(page.base) for url in page.requests), [u for u in page.requests if not u.startswith(page.base)]
    assert sum(sizes.values()) < 100_000, sizes  # the page itself, with its CSS and script
