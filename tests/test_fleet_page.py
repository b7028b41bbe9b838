"""TPL-2: `goldenpath fleet --format html`, opened from disk in a real headless Chromium.

The rows come from real plans (`plan_update` on real git repositories: a tagged template and an
untagged one) with the outcomes and audit scores a fleet run gives; tests/test_update_rollout.py
renders the page of a real fleet of generated services. Here: what a person sees. The page
works from a file (no server), loads nothing from anywhere (its Content-Security-Policy lets
only its own style and script run, which the colours and the sorting prove), and a click on a
column's heading changes the order of the rows. The screenshot is kept in test-artefacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver import Chrome as WebDriver
from selenium.webdriver.common.by import By

from goldenpath.fleet import CLEAN, CONFLICTS, UP_TO_DATE, ServiceStatus
from goldenpath.fleet_audit import SCORED_AREAS, AuditScore
from goldenpath.fleet_html import page
from goldenpath.update import Templates, plan_update
from tests.support.browser import headless_chromium, save_screenshot
from tests.test_update_tools import make_template, make_untagged_template, short

NOW = datetime(2026, 4, 1, tzinfo=UTC)


def scores(overall: float, low_area: str | None = None) -> AuditScore:
    areas = tuple((key, 50.0 if key == low_area else 100.0) for key, _ in SCORED_AREAS)
    return AuditScore(overall, areas=areas)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> list[ServiceStatus]:
    root = tmp_path_factory.mktemp("fleet")
    tagged = make_template(root / "template")
    untagged, shas = make_untagged_template(root / "untagged")
    with Templates() as templates:

        def plan(name: str, source: Path, commit: str) -> ServiceStatus:
            service = root / name
            service.mkdir()
            (service / ".copier-answers.yml").write_text(
                f"_commit: '{commit}'\n_src_path: {source}\nproject_slug: {name}\n"
            )
            return ServiceStatus(service, plan_update(service, templates))

        orders = plan("orders", tagged, "v0.1.0")
        payments = plan("payments", tagged, "v0.2.0")
        ledger = plan("ledger", untagged, short(untagged, shas[0]))
        notifications = plan("notifications", tagged, "v0.10.0")
    return [
        ServiceStatus(orders.repository, orders.plan, CLEAN, audit=scores(96.4, "SEC")),
        ServiceStatus(
            payments.repository, payments.plan, CONFLICTS, ("README.md",), scores(71.0, "OBS")
        ),
        ServiceStatus(ledger.repository, ledger.plan, CLEAN, audit=scores(100.0)),
        ServiceStatus(
            notifications.repository,
            notifications.plan,
            UP_TO_DATE,
            audit=AuditScore(note="not audited (--no-audit)"),
        ),
        ServiceStatus(root / "lost", error=f"{root / 'lost'}: no such directory"),
    ]


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    with headless_chromium() as session:
        yield session


def rows(browser: WebDriver) -> list[str]:
    return [
        row.find_element(By.CSS_SELECTOR, "td").text
        for row in browser.find_elements(By.CSS_SELECTOR, "tbody tr")
    ]


def sort_by(browser: WebDriver, column: str) -> None:
    heading = browser.find_element(By.XPATH, f"//thead//button[normalize-space()='{column}']")
    heading.click()


def cell(browser: WebDriver, service: str, column: str) -> str:
    headings = [h.text.strip(" ▲▼") for h in browser.find_elements(By.CSS_SELECTOR, "thead th")]
    row = browser.find_element(By.XPATH, f"//tbody/tr[td[1][normalize-space()='{service}']]")
    return str(row.find_elements(By.TAG_NAME, "td")[headings.index(column)].text)


def test_tpl2_the_fleet_page_sorts_in_a_real_browser_from_a_file(
    fleet: list[ServiceStatus], browser: WebDriver, tmp_path: Path
) -> None:
    document = tmp_path / "fleet.html"
    document.write_text(page(fleet, NOW), encoding="utf-8")
    browser.get(document.as_uri())

    assert browser.title == "Fleet: 5 service(s)"
    assert rows(browser) == ["orders", "payments", "ledger", "notifications", "lost"]
    # What each row says: release, lag (releases, or commits when untagged), scores, update.
    assert (cell(browser, "orders", "release"), cell(browser, "orders", "newest")) == (
        "v0.1.0",
        "v0.10.0",
    )
    assert (cell(browser, "orders", "behind"), cell(browser, "orders", "days")) == (
        "2 releases",
        "59",
    )
    assert (cell(browser, "ledger", "behind"), cell(browser, "ledger", "days")) == (
        "2 commits",
        "57",
    )
    assert cell(browser, "notifications", "behind") == "0"
    assert cell(browser, "payments", "update") == "conflicts: README.md"
    assert cell(browser, "payments", "OBS") == "50%"
    assert cell(browser, "orders", "audit") == "96%"
    assert cell(browser, "notifications", "audit") == "n/a"
    assert cell(browser, "lost", "update").startswith("error: ")
    assert (
        "untagged (no vX.Y.Z tag), behind counts commits"
        in browser.find_element(By.TAG_NAME, "body").text
    )

    # Its own style ran (the CSP admits it by hash): a full score is green.
    good = browser.find_element(By.XPATH, "//tbody/tr[td[1]='ledger']/td[contains(@class,'good')]")
    assert good.value_of_css_property("background-color") == "rgba(218, 251, 225, 1)"
    # Nothing to load from anywhere.
    external = browser.execute_script(
        "return [...document.querySelectorAll('[src],[href],link')].length"
    )
    assert external == 0

    # Its own script ran: each click reorders the rows; rows without a value stay last.
    sort_by(browser, "audit")
    assert rows(browser) == ["payments", "orders", "ledger", "notifications", "lost"]
    screenshot = save_screenshot(browser, "fleet-page-sorted-by-audit.png")
    sort_by(browser, "audit")
    assert rows(browser) == ["ledger", "orders", "payments", "notifications", "lost"]
    sort_by(browser, "days")
    assert rows(browser) == ["notifications", "payments", "ledger", "orders", "lost"]
    sort_by(browser, "update")
    assert rows(browser)[:2] == ["lost", "payments"]  # what needs a person first
    sort_by(browser, "service")
    assert rows(browser) == ["ledger", "lost", "notifications", "orders", "payments"]
    heading = browser.find_element(By.XPATH, "//thead/tr/th[1]")
    assert heading.get_attribute("aria-sort") == "ascending"

    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 20_000, "a blank page compresses to far less"


def test_tpl2_the_fleet_page_escapes_what_repositories_say(tmp_path: Path) -> None:
    hostile = ServiceStatus(tmp_path / "<b>x</b>", error='"><script>alert(1)</script>')
    text = page([hostile], NOW)
    assert "<script>alert(1)" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert len(re.findall(r"<script>", text)) == 1  # the page's own
