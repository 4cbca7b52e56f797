"""The DPO console's pages and actions through the app: sign-in by token into an HttpOnly
cookie, the request queue overdue first, approve / refuse / execute under the two-person
rule by principal (each audited), a subject's history by pseudonym, and a policy that allows
no script and no inline style on any page."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from api.routers.console import PAGES, current_quarter
from compliance.audit.models import AuditEvent
from compliance.database import Database, utcnow
from compliance.requests.models import SubjectRequest

pytestmark = pytest.mark.integration
SUBJECT = "subj-console-0001"


class _Inline(HTMLParser):
    """Anything a CSP without 'unsafe-inline' would refuse: scripts, handlers, styles."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = [n for n, _ in attrs]
        if tag in ("script", "style") or "style" in names or any(n.startswith("on")
                                                                  for n in names):
            self.found.append(tag)


def _token(headers: dict[str, str]) -> str:
    return headers["Authorization"].split(" ", 1)[1]


def _sign_in(client: TestClient, token: str, lang: str = "en") -> None:
    client.cookies.clear()
    r = client.post("/dpo/console/signin", data={"token": token, "lang": lang},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "httponly" in r.headers["set-cookie"].lower()
    assert "samesite=strict" in r.headers["set-cookie"].lower()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert m
    return m.group(1)


def _audited(db: Database, action: str) -> int:
    with db.reading() as s:
        return int(s.scalar(select(func.count()).select_from(AuditEvent)
                            .where(AuditEvent.action == action)) or 0)


@pytest.fixture
def queue(client: TestClient, auth: Callable[..., dict[str, str]], db: Database
          ) -> dict[str, str]:
    """A brand opens a deletion (needs a second person) and an access request; the access
    one is made overdue."""
    brand = auth("brand:brand-a")
    r = client.post("/v1/consents", headers=brand, json={
        "brand_id": "brand-a", "subject": SUBJECT, "purpose": "marketing",
        "action": "grant", "notice_version": "v1"})
    assert r.status_code in (200, 201), r.text
    client.post("/v1/consents", headers=brand, json={
        "brand_id": "brand-a", "subject": SUBJECT, "purpose": "marketing",
        "action": "withdraw", "notice_version": "v1"})
    ids = {}
    for kind in ("deletion", "access"):
        r = client.post("/v1/requests", headers=brand, json={
            "brand_id": "brand-a", "subject": SUBJECT, "type": kind})
        assert r.status_code == 201, r.text
        ids[kind] = r.json()["id"]
    with db.unit_of_work() as s:
        s.execute(update(SubjectRequest).where(SubjectRequest.id == ids["access"])
                  .values(due_at=utcnow() - timedelta(days=2)))
    return ids


def test_sign_in_refuses_a_token_that_is_not_a_dpo(client: TestClient,
                                                   auth: Callable[..., dict[str, str]]
                                                   ) -> None:
    assert client.get("/dpo/console/requests").status_code == 401
    r = client.post("/dpo/console/signin", data={"token": _token(auth("brand:brand-a"))})
    assert r.status_code == 401 and "not a valid dpo" in r.text
    assert "set-cookie" not in r.headers


def test_queue_overdue_first_and_two_person_rule(client: TestClient, db: Database,
                                                 auth: Callable[..., dict[str, str]],
                                                 queue: dict[str, str]) -> None:
    first, second = auth("dpo"), auth("dpo")
    _sign_in(client, _token(first))
    page = client.get("/dpo/console/requests")
    assert page.status_code == 200
    rows = re.findall(r'<tr id="req-([0-9a-f-]+)"', page.text)
    assert rows == [queue["access"], queue["deletion"]]  # overdue first
    assert "overdue" in page.text and "needs a second person" in page.text
    csrf = _csrf(page.text)
    # no CSRF token, no action
    r = client.post(f"/dpo/console/requests/{queue['deletion']}/approve", data={})
    assert r.status_code == 403
    # the deletion cannot run before a second person approves it
    r = client.post(f"/dpo/console/requests/{queue['deletion']}/execute",
                    data={"csrf": csrf}, follow_redirects=True)
    assert "needs approval by a second person" in r.text
    r = client.post(f"/dpo/console/requests/{queue['deletion']}/approve",
                    data={"csrf": csrf}, follow_redirects=True)
    assert "Done" in r.text and _audited(db, "request.approved") == 1
    # the approver may not execute it: another person must
    r = client.post(f"/dpo/console/requests/{queue['deletion']}/execute",
                    data={"csrf": csrf}, follow_redirects=True)
    assert "approver and the executor must be different" in r.text
    _sign_in(client, _token(second))
    csrf = _csrf(client.get("/dpo/console/requests").text)
    r = client.post(f"/dpo/console/requests/{queue['deletion']}/execute",
                    data={"csrf": csrf}, follow_redirects=True)
    assert "Done" in r.text and _audited(db, "request.completed") == 1
    # a refusal needs a reason, and is audited with it
    r = client.post(f"/dpo/console/requests/{queue['access']}/refuse",
                    data={"csrf": csrf, "reason": " "}, follow_redirects=True)
    assert "needs a reason" in r.text
    r = client.post(f"/dpo/console/requests/{queue['access']}/refuse",
                    data={"csrf": csrf, "reason": "identity not verified"},
                    follow_redirects=True)
    assert "No open requests" in r.text and _audited(db, "request.updated") == 1
    with db.reading() as s:
        statuses = dict(s.execute(select(SubjectRequest.id, SubjectRequest.status)).all())
    assert statuses == {queue["deletion"]: "completed", queue["access"]: "rejected"}


def test_subject_page_shows_consent_over_time_and_requests(
        client: TestClient, auth: Callable[..., dict[str, str]], db: Database,
        queue: dict[str, str]) -> None:
    _sign_in(client, _token(auth("dpo")), lang="zh")
    r = client.get(f"/dpo/console/subjects?lang=zh&key={SUBJECT}")
    assert r.status_code == 200
    assert "同意事件时间线" in r.text and "brand-a" in r.text
    assert r.text.index(">grant<") < r.text.index(">withdraw<")  # in time order
    assert "deletion" in r.text and "access" in r.text
    assert "withdrawn" in r.text  # the state now
    none = client.get("/dpo/console/subjects?lang=zh&key=nobody-0000")
    assert "没有使用该假名的主体" in none.text
    assert _audited(db, "subject.history_viewed") == 2  # every look-up is traceable


def test_every_page_has_a_policy_without_script_or_inline_style(
        client: TestClient, auth: Callable[..., dict[str, str]],
        queue: dict[str, str]) -> None:
    _sign_in(client, _token(auth("dpo")))
    for lang in ("en", "zh"):
        for page in (*PAGES, ""):
            r = client.get(f"/dpo/console/{page}?lang={lang}&key={SUBJECT}")
            assert r.status_code == 200, (page, r.text[:300])
            policy = r.headers["content-security-policy"]
            assert "script-src 'none'" in policy and "style-src 'self'" in policy
            assert "unsafe" not in policy
            parser = _Inline()
            parser.feed(r.text)
            assert parser.found == [], (page, parser.found)
    assert current_quarter().label in client.get("/dpo/console/checklist").text
    css = client.get("/dpo/console/console.css")
    assert css.headers["content-type"].startswith("text/css")


def test_trace_page_by_subject_run_and_actor(client: TestClient,
                                             auth: Callable[..., dict[str, str]],
                                             queue: dict[str, str]) -> None:
    """The 7-day trace as a page: the subject's consent and request events with rule,
    actor, categories and digest; in Chinese too; a bad window or kind says what is wrong."""
    _sign_in(client, _token(auth("dpo")))
    r = client.get(f"/dpo/console/trace?by=subject&value={SUBJECT}&since=7d")
    assert r.status_code == 200, r.text[:300]
    rows = re.findall(r'<tr id="seq-(\d+)">', r.text)
    assert len(rows) >= 4 and rows == sorted(rows, key=int)  # oldest first
    assert "consent." in r.text and "request." in r.text and "brand:brand-a#" in r.text
    digests = re.findall(r'<code title="([0-9a-f]{64})">', r.text)
    assert len(digests) == len(rows)
    assert 'href="?lang=zh&amp;by=subject&amp;value=' + SUBJECT in r.text  # keeps the query
    zh = client.get(f"/dpo/console/trace?lang=zh&by=subject&value={SUBJECT}")
    assert "证据摘要" in zh.text and re.findall(r'<tr id="seq-', zh.text)
    actor = client.get("/dpo/console/trace?by=actor&value=brand:brand-a&since=1d")
    assert len(re.findall(r'<tr id="seq-', actor.text)) >= len(rows)
    none = client.get("/dpo/console/trace?by=run&value=no-such-run")
    assert none.status_code == 200 and 'id="none"' in none.text
    bad = client.get(f"/dpo/console/trace?by=subject&value={SUBJECT}&since=7w")
    assert bad.status_code == 400 and "is not N followed by d, h or m" in bad.text
    kind = client.get(f"/dpo/console/trace?by=email&value={SUBJECT}")
    assert kind.status_code == 400 and "subject, run or actor" in kind.text
    client.cookies.clear()
    assert client.get(f"/dpo/console/trace?value={SUBJECT}").status_code == 401


def test_runs_page_shows_the_value_of_joining_per_brand(
        client: TestClient, auth: Callable[..., dict[str, str]], db: Database) -> None:
    from federation.coordinator.lineage.service import BrandLineage, LineageService
    from federation.settings import RunSettings

    settings = RunSettings(run_id="run-lift-1", brands=("brand-a", "brand-b"),
                           consent_as_of=utcnow().isoformat())
    lift = {"brand-a": {"auc": {"federated": 0.81, "local_only": 0.7, "lift": 0.1571}},
            "brand-b": {"auc": {"federated": 0.8, "local_only": 0.0, "lift": None}}}
    with db.unit_of_work() as s:
        lineage = LineageService(s)
        lineage.start_run(settings, "fedavg")
        lineage.record_brands(settings.run_id, [BrandLineage(b, 10, 0, 0, "0" * 64, {})
                                                for b in settings.brands])
        lineage.complete(settings.run_id, {"final": {"auc": 0.8}, "per_brand_lift": lift},
                         [])
    _sign_in(client, _token(auth("dpo")))
    r = client.get("/dpo/console/runs")
    table = r.text[r.text.index('id="lift-run-lift-1"'):]
    table = table[:table.index("</table>")]
    assert "brand-a" in table and "0.810" in table and "0.700" in table and "+15.7%" in table
    assert "brand-b" in table and "—" in table  # no relative lift over a zero figure
    assert 'href="/dpo/console/trace?lang=en&amp;by=run&amp;value=run-lift-1&amp;since=1d"' \
        in r.text
    zh = client.get("/dpo/console/runs?lang=zh")
    assert "加入联盟的价值" in zh.text and "仅本地" in zh.text
    trace = client.get("/dpo/console/trace?by=run&value=run-lift-1&since=1d")
    assert "training." in trace.text
