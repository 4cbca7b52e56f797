"""The DPO page runs no inline script: its policy allows scripts from the server only, and
its script is served as a file with its own type (issue 19)."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


class _Scripts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str | None] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handlers += [name for name, _ in attrs if name.startswith("on")]
        if tag == "script":
            self.srcs.append(dict(attrs).get("src"))
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data)


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (d.split() for d in policy.split(";") if d.strip())
    return {p[0]: p[1:] for p in parts}


def test_the_dpo_page_allows_no_inline_script(client: TestClient) -> None:
    r = client.get("/dpo")
    assert r.status_code == 200
    policy = _directives(r.headers["content-security-policy"])
    assert policy["script-src"] == ["'self'"]
    assert not any("unsafe" in v for v in policy["script-src"] + policy["default-src"])
    page = _Scripts()
    page.feed(r.text)
    assert page.srcs == ["/dpo.js"] and page.inline == [] and page.handlers == []
    js = client.get("/dpo.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert js.headers["x-content-type-options"] == "nosniff"
    assert 'getElementById' in js.text and "<script" not in js.text
