"""Only ``vigil.policy`` decides: no module outside it imports or calls a ``decide_*``
function, or builds a ``ShareView`` itself (only the gate does, with the share's state
and community hold); every other module asks the access gate (``vigil.policy.access``)."""

from __future__ import annotations

import ast
from pathlib import Path

import vigil

SRC = Path(vigil.__file__).resolve().parent
POLICY = SRC / "policy"


def offences(tree: ast.AST) -> list[str]:
    """``decide_*`` names a module imports, calls or reaches as an attribute, and
    ``ShareView`` calls."""
    out = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom | ast.Import):
            names = [a.name.rsplit(".", 1)[-1] for a in node.names]
            names += [a.asname for a in node.names if a.asname]
        elif isinstance(node, ast.Name):
            names = [node.id]
        elif isinstance(node, ast.Attribute):
            names = [node.attr]
        if isinstance(node, ast.Call):
            f = node.func
            called = f.id if isinstance(f, ast.Name) else f.attr if isinstance(
                f, ast.Attribute) else ""
            if called == "ShareView":
                out.append(f"line {node.lineno}: ShareView(...)")
        out += [f"line {node.lineno}: {n}" for n in names
                if n.startswith("decide_") and hasattr(node, "lineno")]
    return out


def test_no_module_outside_policy_uses_a_decide_function() -> None:
    found = {}
    modules = sorted(SRC.rglob("*.py"))
    assert len(modules) > 50
    for path in modules:
        if path.is_relative_to(POLICY):
            continue
        bad = offences(ast.parse(path.read_text("utf-8"), str(path)))
        if bad:
            found[str(path.relative_to(SRC))] = bad
    assert found == {}


def test_the_rule_sees_imports_calls_and_attributes() -> None:
    code = ("from vigil.policy import decide_read as r\n"
            "import vigil.policy.decide\n"
            "vigil.policy.decide.decide_forward(1)\n"
            "decide_log_entry(2)\n")
    got = offences(ast.parse(code))
    assert [g.split(": ")[1] for g in got] == ["decide_read", "decide_forward",
                                               "decide_log_entry"]
    assert offences(ast.parse("from vigil.policy.access import Access\nAccess(1, 2)\n")) == []
    assert offences(ast.parse("access.ShareView('s', {}, None, None)\n")) == \
        ["line 1: ShareView(...)"]
