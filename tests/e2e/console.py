"""Page helpers for the console's end-to-end tests: data-testid selectors, Element Plus widgets,
screenshots, and a watch on what the browser reports (page errors, CSP violations, token refreshes)."""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect


def tid(name: str) -> str:
    return f'[data-testid="{name}"]'


@dataclass
class Console:
    page: Page
    base: str
    screenshots: Path
    page_errors: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    refresh_tokens: list[str] = field(default_factory=list)
    shots: list[Path] = field(default_factory=list)
    enabled: bool = True

    def __post_init__(self) -> None:
        self.page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        self.page.on("console", self._on_console)
        self.page.on("request", self._on_request)

    def _on_console(self, message: Any) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.csp_violations.append(text)

    def _on_request(self, request: Any) -> None:
        if request.url.endswith("/v1/auth/refresh") and request.method == "POST":
            self.refresh_tokens.append(json.loads(request.post_data or "{}").get("refreshToken", ""))

    # --- navigation ------------------------------------------------------------------------

    def open(self, path: str = "") -> None:
        self.page.goto(self.base + path)

    def by(self, name: str) -> Locator:
        return self.page.locator(tid(name))

    def nav(self, name: str, ready: str) -> None:
        self.by(f"nav-{name}").click()
        expect(self.by(ready)).to_be_visible()

    def login(self, username: str, password: str, landing: str = "dashboard") -> None:
        self.by("login-username").fill(username)
        self.by("login-password").fill(password)
        self.by("login-submit").click()
        expect(self.by(landing)).to_be_visible()

    def logout(self) -> None:
        self.by("user-menu").click()
        self.by("logout").click()
        expect(self.by("login-submit")).to_be_visible()

    def shot(self, name: str) -> Path | None:
        """A full-page screenshot under test-artifacts/screenshots/<backend>/ (git-ignored), when enabled."""
        if not self.enabled:
            return None
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_timeout(400)  # let dialog/table/tag transitions settle for a faithful picture
        path = self.screenshots / f"{len(list(self.screenshots.glob('*.png'))) + 1:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        self.shots.append(path)
        return path

    # --- Element Plus widgets --------------------------------------------------------------

    def choose(self, select: str, option: str) -> None:
        """Pick ``option`` (its visible text) in the el-select with data-testid ``select``."""
        self.by(select).click()
        self.page.locator(".el-select-dropdown__item:visible", has_text=re.compile(rf"^\s*{re.escape(option)}\s*$")).click()

    def choose_tree(self, select: str, node: str) -> None:
        """Pick a department in an el-tree-select (its data-testid is on both the select and the tree)."""
        self.page.locator(f".el-select{tid(select)}").click()
        self.page.locator(".el-tree-node__content:visible", has_text=node).first.click()

    def confirm(self) -> None:
        """Press the danger button of the open confirmation box."""
        self.page.locator(".djs-confirm .el-message-box__btns .el-button--danger").click()

    def field_error(self, input_testid: str) -> Locator:
        """The error text Element Plus shows under the form item holding ``input_testid``."""
        return self.page.locator(f".el-form-item:has({tid(input_testid)}) .el-form-item__error")

    def table_texts(self, table: str, column_testid_prefix: str) -> set[str]:
        cells = self.page.locator(f"{tid(table)} [data-testid^='{column_testid_prefix}']")
        return {cells.nth(i).inner_text().strip() for i in range(cells.count())}

    # --- checks ----------------------------------------------------------------------------

    def wait_until(self, predicate, timeout: float = 15, message: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            self.page.wait_for_timeout(200)
        raise AssertionError(f"timed out after {timeout}s waiting for {message}")

    def assert_healthy(self) -> None:
        """No uncaught script error, no CSP violation, and no refresh token ever presented twice
        (a reuse would revoke the whole session family)."""
        assert self.page_errors == [], self.page_errors
        assert self.csp_violations == [], self.csp_violations
        assert len(self.refresh_tokens) == len(set(self.refresh_tokens)), self.refresh_tokens
