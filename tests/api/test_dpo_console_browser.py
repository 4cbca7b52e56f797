"""The DPO console in headless Chromium against the real server, one test per page, on
generated records for the current quarter: sign in with the keyboard, work the request queue
(overdue first, approval by a second person), look up a subject, read the training runs, the
budgets and the checklist with its evidence, in English and Chinese, with nothing refused by
the pages' Content-Security-Policy. Each page's screenshot is kept under the test's tmp dir
(and copied to $COMITY_SCREENSHOTS when set)."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from api.routers.console import current_quarter
from compliance.consent.models import ConsentEvent
from compliance.database import Database, utcnow
from compliance.policy.loader import load_policies
from compliance.report.synthetic import BRANDS, Scale, generate, subject_key
from compliance.requests.models import SubjectRequest
from compliance.requests.schemas import RequestIn
from compliance.requests.service import RequestService
from compliance.subjects.models import Subject
from compliance.tokens.service import TokenService

pytestmark = [pytest.mark.integration, pytest.mark.slow,
              pytest.mark.xdist_group("console-browser")]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
needs_chromium = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
    reason="Debian chromium and chromium-driver are not installed (.ci/run installs them)")
SCALE = Scale(subjects=300, consent_events=1200, runs=4, decisions_per_brand=10,
              requests=30, late_requests=2, releases=20)


class Console:
    """One signed-in browser on the running server."""

    def __init__(self, driver: Any, base: str, shots: Path) -> None:
        self.driver, self.base, self.shots = driver, base, shots

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def text(self) -> str:
        from selenium.webdriver.common.by import By

        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def shot(self, name: str) -> Path:
        path = self.shots / f"console-{name}.png"
        assert self.driver.save_screenshot(str(path))
        assert path.stat().st_size > 10_000
        keep = os.environ.get("COMITY_SCREENSHOTS") or os.environ.get("COMITY_SCREENSHOT_DIR")
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(path, Path(keep) / path.name)
        return path

    def refused(self) -> list[str]:
        return [e["message"] for e in self.driver.get_log("browser")
                if "Content Security Policy" in e["message"]]

    def press_enter(self, element: Any, *keys: str) -> None:
        """Type into `element`, press Enter and wait for the page it loads: a form submitted
        from the keyboard returns before the next document is there (WebDriver waits only
        for navigations it starts itself), so the next lookup would race it."""
        from selenium.webdriver.common.keys import Keys
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        element.send_keys(*keys, Keys.ENTER)
        WebDriverWait(self.driver, 30).until(expected_conditions.staleness_of(element))
        WebDriverWait(self.driver, 30).until(
            lambda d: d.execute_script("return document.readyState") == "complete")

    def sign_in(self, token: str, lang: str = "en") -> None:
        from selenium.webdriver.common.by import By

        self.driver.delete_all_cookies()
        self.open(f"/dpo/console?lang={lang}")
        field = self.driver.find_element(By.ID, "token")
        assert self.driver.switch_to.active_element == field  # autofocus: type at once
        self.press_enter(field, token)


@pytest.fixture(scope="module")
def alliance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("console")
    url = f"sqlite:///{work / 'comity.db'}"
    db = Database(url)
    quarter = current_quarter()
    generate(db, replace(quarter, end=utcnow() - timedelta(minutes=5)), SCALE, seed=7)
    with db.unit_of_work() as s:
        tokens = {name: TokenService(s).create("dpo", principal=name)
                  for name in ("dpo-alice", "dpo-bob")}
        svc = RequestService(s, load_policies())
        opened = [svc.open(RequestIn.model_validate(
            {"brand_id": brand, "subject": subject_key(i), "type": kind}), actor="brand")[0]
                  for i, (brand, kind) in enumerate([(BRANDS[0][0], "deletion"),
                                                     (BRANDS[1][0], "access"),
                                                     (BRANDS[2][0], "correction")])]
        s.execute(update(SubjectRequest).where(SubjectRequest.id == opened[1].id)
                  .values(due_at=utcnow() - timedelta(days=3)))
    with db.reading() as s:
        subject = s.scalar(select(Subject.subject_key).join(
            ConsentEvent, ConsentEvent.subject_id == Subject.id).limit(1))
    db.dispose()
    env = {**os.environ, "COMITY_DATABASE_URL": url, "COMITY_KEY_DIR": str(work / "keys")}
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from server import api_server  # the same subprocess start the benchmarks use

    with api_server(env) as (base, _):
        yield {"base": base, "tokens": tokens, "subject": subject, "work": work}


@pytest.fixture
def console(alliance: dict[str, Any], tmp_path: Path) -> Iterator[Console]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                "--disable-dev-shm-usage", "--lang=en"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    try:
        yield Console(driver, alliance["base"], tmp_path)
    finally:
        driver.quit()


@needs_chromium
def test_request_queue_overdue_first_and_a_second_person_approves(
        console: Console, alliance: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    console.sign_in(alliance["tokens"]["dpo-alice"])
    assert "/dpo/console/requests" in console.driver.current_url
    rows = console.driver.find_elements(By.CSS_SELECTOR, "#queue tbody tr")
    assert rows, console.text()[:500]
    overdue = ["overdue" in (r.get_attribute("class") or "") for r in rows]
    assert overdue == sorted(overdue, reverse=True)  # every overdue row before the rest
    assert any(overdue)  # the generated quarter has requests past their deadline
    console.shot("requests")
    # approve with the keyboard: the first approve button, Enter
    button = console.driver.find_elements(By.CSS_SELECTOR, "button[id^=approve-]")[0]
    request_id = str(button.get_attribute("id")).removeprefix("approve-")
    console.press_enter(button)
    assert f"approve:{request_id}" in console.driver.find_element(By.ID, "done").text
    row = console.driver.find_element(By.ID, f"req-{request_id}")
    assert "approved by dpo#" in row.text
    # the approver cannot also execute: the page says why and nothing runs
    console.press_enter(console.driver.find_element(By.ID, f"execute-{request_id}"))
    assert "different" in console.driver.find_element(By.ID, "error").text
    console.shot("requests-two-person")
    assert not console.refused()


@needs_chromium
def test_keyboard_reaches_every_page_from_the_top(console: Console,
                                                  alliance: dict[str, Any]) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    console.sign_in(alliance["tokens"]["dpo-bob"])
    seen = []
    for _ in range(9):
        ActionChains(console.driver).send_keys(Keys.TAB).perform()
        seen.append(console.driver.switch_to.active_element.get_attribute("id") or
                    console.driver.switch_to.active_element.text)
    assert seen[0] == "Skip to content"
    assert [s for s in seen if str(s).startswith("nav-")] == [
        "nav-requests", "nav-subjects", "nav-trace", "nav-runs", "nav-budgets", "nav-checklist"]
    assert seen[-2:] == ["lang-en", "lang-zh"]
    for _ in range(2):  # back past the language links to the last page link
        ActionChains(console.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB) \
            .key_up(Keys.SHIFT).perform()
    assert console.driver.switch_to.active_element.get_attribute("id") == "nav-checklist"
    console.press_enter(console.driver.switch_to.active_element)
    assert "/dpo/console/checklist" in console.driver.current_url


@needs_chromium
def test_subject_page_by_pseudonym(console: Console, alliance: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    console.sign_in(alliance["tokens"]["dpo-bob"], lang="zh")
    console.open("/dpo/console/subjects?lang=zh")
    console.press_enter(console.driver.find_element(By.ID, "key"), alliance["subject"])
    body = console.text()
    assert "同意事件时间线" in body and "当前同意状态" in body
    assert console.driver.find_elements(By.CSS_SELECTOR, "table.events tbody tr")
    assert "对该主体作出准入决定的训练" in body
    console.shot("subject-zh")
    assert not console.refused()


@needs_chromium
def test_training_runs_page(console: Console, alliance: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    console.sign_in(alliance["tokens"]["dpo-bob"])
    console.open("/dpo/console/runs?lang=en")
    runs = console.driver.find_elements(By.CSS_SELECTOR, "section.run")
    assert len(runs) == SCALE.runs
    body = console.text()
    for word in ("records used / excluded", "ε = 3.00", "SecAgg+", "model version",
                 "membership inference", "withdrawn after training"):
        assert word in body, word
    assert console.driver.find_elements(By.CSS_SELECTOR, "section.run.flagged")
    lift = console.driver.find_elements(By.CSS_SELECTOR, "table.lift tbody tr")
    assert len(lift) == 3 * SCALE.runs and "%" in lift[0].text  # 3 brands a run
    assert "Value of joining" in body
    console.shot("runs")
    assert not console.refused()


@needs_chromium
def test_trace_page(console: Console, alliance: dict[str, Any]) -> None:
    """From a run on the runs page to its trace, then one subject's, in Chinese, with the
    keyboard."""
    from selenium.webdriver.common.by import By

    console.sign_in(alliance["tokens"]["dpo-bob"])
    console.open("/dpo/console/runs?lang=en")
    link = console.driver.find_elements(By.CSS_SELECTOR, "a[id^=trace-]")[0]
    run_id = str(link.get_attribute("id")).removeprefix("trace-")
    console.press_enter(link)
    assert "/dpo/console/trace" in console.driver.current_url
    rows = console.driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    assert rows and any("gate.decision" in r.text for r in rows)
    assert console.driver.find_element(By.ID, "value").get_attribute("value") == run_id
    assert "evidence digest" in console.text()
    console.shot("trace-run")
    console.open("/dpo/console/trace?lang=zh")
    field = console.driver.find_element(By.ID, "value")
    since = console.driver.find_element(By.ID, "since")
    since.clear()
    since.send_keys("120d")
    console.press_enter(field, alliance["subject"])
    body = console.text()
    assert "证据摘要" in body and "条事件" in body
    assert console.driver.find_elements(By.CSS_SELECTOR, "#events tbody tr")
    console.shot("trace-subject-zh")
    assert not console.refused()


@needs_chromium
def test_budgets_page(console: Console, alliance: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    console.sign_in(alliance["tokens"]["dpo-bob"])
    console.open("/dpo/console/budgets?lang=en")
    rows = console.driver.find_elements(By.CSS_SELECTOR, "#budgets tbody tr")
    assert rows and "service:" in rows[0].text
    assert console.driver.find_elements(By.CSS_SELECTOR, "section.burn svg")
    assert "Spend over time" in console.text()
    console.shot("budgets")
    assert not console.refused()


@needs_chromium
def test_checklist_page_links_its_evidence(console: Console, alliance: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    console.sign_in(alliance["tokens"]["dpo-bob"], lang="zh")
    console.open("/dpo/console/checklist?lang=zh")
    assert current_quarter().label in console.text()
    items = console.driver.find_elements(By.CSS_SELECTOR, "#checklist tbody tr")
    assert len(items) >= 10 and "《个人信息保护法》" in console.text()
    console.shot("checklist-zh")
    link = console.driver.find_element(By.CSS_SELECTOR, "#item-requests\\.on_time a")
    console.press_enter(link)
    assert console.driver.current_url.endswith("#requests")
    assert "个人权利请求" in console.driver.find_element(By.ID, "requests").text
    console.shot("report-zh")
    assert not console.refused()
