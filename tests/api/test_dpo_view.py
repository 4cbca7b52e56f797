"""The DPO web view in headless Chromium against the real server: sign in with a dpo token,
see the audit verification, open a report, with nothing refused by the page's
Content-Security-Policy; a screenshot is kept as evidence."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from compliance.database import Database
from compliance.subjects.service import SubjectService
from compliance.tokens.service import TokenService

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
CHROMIUM, DRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)),
                    reason="Debian chromium and chromium-driver are not installed "
                           "(.ci/run installs them)")
def test_dpo_view_in_headless_chromium(tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from server import api_server  # the same subprocess start the benchmarks use

    url = f"sqlite:///{tmp_path / 'comity.db'}"
    db = Database(url)
    with db.unit_of_work() as s:
        SubjectService(s).register_brand("lumen-tea", "Lumen Tea", "pipl", actor="admin")
        token = TokenService(s).create("dpo", principal="dpo-1")
    db.dispose()
    env = {**os.environ, "COMITY_DATABASE_URL": url, "COMITY_KEY_DIR": str(tmp_path / "keys")}
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                "--disable-dev-shm-usage"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # CSP violations land here
    with api_server(env) as (base, _):
        driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
        try:
            driver.get(base + "/dpo")
            driver.find_element(By.ID, "token").send_keys(token)
            driver.find_element(By.ID, "signin").click()
            wait = WebDriverWait(driver, 30)
            wait.until(ec.text_to_be_present_in_element((By.ID, "audit"), "verified"))
            wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "Report "))
            assert "failed" not in driver.find_element(By.ID, "status").text
            driver.switch_to.frame(driver.find_element(By.ID, "report"))
            heading = wait.until(ec.presence_of_element_located((By.TAG_NAME, "h1"))).text
            assert "DPO report" in heading
            assert "Lumen Tea" in driver.find_element(By.TAG_NAME, "body").text
            driver.switch_to.default_content()
            refused = [e["message"] for e in driver.get_log("browser")
                       if "Content Security Policy" in e["message"]]
            assert not refused, refused  # the page runs under script-src 'self' alone
            shot = tmp_path / "dpo-view.png"
            assert driver.save_screenshot(str(shot))
            assert shot.stat().st_size > 10_000
            keep = os.environ.get("COMITY_SCREENSHOT_DIR")
            if keep:
                shutil.copy(shot, Path(keep) / shot.name)
            driver.find_element(By.ID, "token").clear()
            driver.find_element(By.ID, "token").send_keys("not-a-token")
            driver.find_element(By.ID, "signin").click()
            wait.until(ec.text_to_be_present_in_element((By.ID, "audit"), "401"))
        finally:
            driver.quit()
