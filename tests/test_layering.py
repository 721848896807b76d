"""The layers hold (issue 22): every import statement of the production code, module- or function-level, is read
from the source (AST), so an import moved into a function to dodge a cycle counts as much as one at the top.

Rules held today:
- apps.records imports nothing from apps.alerts or apps.tasks (the nodes' API lives in the tasks app, alerts
  register their own retention step, run-log paths are apps.records.runlogs);
- apps.accounts and apps.departments import nothing from apps.tasks (bootstrap steps and department-move
  checks are registered by the tasks app);
- apps.tasks imports nothing from apps.alerts (the scheduler's listeners are registered by the alerts app);
- djs_platform imports no app at all (not even under TYPE_CHECKING): it reaches them through get_user_model(),
  the user's own methods (department_scope_ids, permission_codes, is_usable), INSTALLED_APPS/URLconf strings and
  hooks apps register in AppConfig.ready (bootstrap steps, the token-state model, API-token checks, prune steps,
  department-move checks, scheduler listeners).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from djs_platform.config import BASE_DIR

pytestmark = pytest.mark.single_backend


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, module) of every import in the file, relative imports resolved against its package."""
    package = ".".join(path.relative_to(BASE_DIR).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
            found += [(node.lineno, base)] + [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def _production_files(top: str) -> list[Path]:
    root = BASE_DIR / Path(*top.split("."))
    files = [root.with_suffix(".py")] if root.with_suffix(".py").is_file() else sorted(root.rglob("*.py"))
    return [p for p in files if "tests" not in p.parts and "migrations" not in p.parts]


RULES = [  # (importing package or module, forbidden prefixes)
    ("apps.records", ("apps.alerts", "apps.tasks")),
    ("apps.accounts", ("apps.tasks",)),
    ("apps.departments", ("apps.tasks",)),
    ("apps.tasks", ("apps.alerts",)),
    ("djs_platform", ("apps",)),
]


@pytest.mark.parametrize("importer, forbidden", RULES, ids=[rule[0] for rule in RULES])
def test_a_layer_imports_nothing_above_or_beside_it(importer, forbidden):
    files = _production_files(importer)
    assert files, importer
    broken = [f"{path.relative_to(BASE_DIR)}:{line} imports {module}"
              for path in files for line, module in _imports(path)
              if any(module == prefix or module.startswith(prefix + ".") for prefix in forbidden)]
    assert broken == []


def test_the_scan_sees_function_level_and_relative_imports(tmp_path, monkeypatch):
    """The rule would fail on the imports it exists to forbid (a check that cannot fail proves nothing)."""
    import tests.test_layering as me

    package = tmp_path / "apps" / "records"
    package.mkdir(parents=True)
    (package / "bad.py").write_text("def f():\n    from apps.alerts.models import Alert\n"
                                    "from ..tasks import selectors\n")
    monkeypatch.setattr(me, "BASE_DIR", tmp_path)
    modules = {module for _, module in _imports(package / "bad.py")}
    assert {"apps.alerts.models", "apps.tasks", "apps.tasks.selectors"} <= modules
    with pytest.raises(AssertionError):
        test_a_layer_imports_nothing_above_or_beside_it("apps.records", ("apps.alerts", "apps.tasks"))
