"""The /atlas page in real headless Chromium against the real server (fixtures of test_browser)."""

from __future__ import annotations

import time

import pytest

from tests.web.test_browser import browser, page, server, shot  # noqa: F401 - pytest fixtures

pytestmark = pytest.mark.model


def test_atlas_page_grid_click_through_and_share(page):
    page.goto(page.base + "/atlas")
    page.locator("textarea[name=ms]").fill("法律顾问\n无线电管理\n天气预报火锅")
    page.locator("select[name=by]").select_option("document")
    started = time.perf_counter()
    page.locator(".atlas-form button[type=submit]").click()
    page.wait_for_selector("table.atlas")
    assert time.perf_counter() - started < 2.0
    rows = page.locator("table.atlas tbody tr")
    assert rows.count() == 3
    assert page.locator("table.atlas tbody tr").nth(2).locator("td.absent").count() == 5  # 天气预报火锅: nowhere
    assert page.locator("td.strong").count() >= 4
    shot(page, "atlas-grid")
    share = page.locator("a", has_text="可分享链接").get_attribute("href")
    page.locator("td.strong a").first.click()
    page.wait_for_load_state()
    assert "/documents/" in page.url and "#" in page.url
    page.goto(page.base + share)
    assert page.locator("table.atlas tbody tr").count() == 3  # the shared URL rebuilds the same grid
    assert not [u for u in page.requests if not u.startswith(page.base)]  # nothing leaves the server
