"""The error-code registry (vigil.codes) holds every stable code used in src/, only those,
and docs/api.md carries it exactly."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from vigil import codes

SRC = Path(__file__).resolve().parents[1] / "src" / "vigil"
DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
CODE_SHAPE = re.compile(r"[a-z]+\.[a-z][a-z0-9_]*")
# strings of a code's shape that are not codes: ASGI message types, file names, SQL aliases
NOT_CODES = {"http.disconnect", "http.request", "client.stream"}  # client.stream: a prefix
FILE_SUFFIXES = {"html", "json", "key", "css", "js", "toml", "db", "py", "md", "marker", "dump"}


def _uses() -> tuple[dict[str, list[str]], list[tuple[str, re.Pattern[str]]]]:
    """Every literal code in src (with where), and every code built at run time (as a
    pattern of what it can be)."""
    areas = {c.split(".")[0] for c in codes.CODES if "." in c} - {"vigil"}  # logger names
    found: dict[str, list[str]] = {}
    dynamic: list[tuple[str, re.Pattern[str]]] = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "codes.py" and path.parent == SRC:
            continue  # the registry itself
        where = str(path.relative_to(SRC))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        pieces = {id(p) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr)
                  for p in n.values}
        for node in ast.walk(tree):
            values: list[ast.expr] = []
            if isinstance(node, ast.Call):
                values = [k.value for k in node.keywords if k.arg == "code"]
            elif isinstance(node, ast.ClassDef):
                values = [s.value for s in node.body if isinstance(s, ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == "code" for t in s.targets)]
                values += [s.value for s in node.body if isinstance(s, ast.AnnAssign)
                           and isinstance(s.target, ast.Name) and s.target.id == "code"
                           and s.value is not None]
            for v in values:
                if isinstance(v, ast.Constant) and isinstance(v.value, str):
                    found.setdefault(v.value, []).append(where)
                elif isinstance(v, ast.JoinedStr):
                    pattern = "".join(re.escape(p.value) if isinstance(p, ast.Constant)
                                      else "[a-z_]+" for p in v.values)
                    dynamic.append((f"{where}:{v.lineno}", re.compile(pattern)))
            if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and id(node) not in pieces and CODE_SHAPE.fullmatch(node.value) \
                    and node.value.split(".")[0] in areas \
                    and node.value.split(".")[1] not in FILE_SUFFIXES \
                    and node.value not in NOT_CODES:
                found.setdefault(node.value, []).append(where)
    return found, dynamic


def test_every_code_used_is_registered() -> None:
    found, dynamic = _uses()
    missing = {c: w for c, w in found.items() if c not in codes.CODES}
    assert not missing, f"codes used in src but not in vigil.codes: {missing}"
    for where, pattern in dynamic:
        assert any(pattern.fullmatch(c) for c in codes.CODES), \
            f"{where}: no registered code can be {pattern.pattern}"


def test_every_registered_code_is_used() -> None:
    found, dynamic = _uses()
    unused = [c for c in codes.CODES
              if c not in found and not any(p.fullmatch(c) for _, p in dynamic)]
    assert not unused, f"registered but used nowhere in src: {unused}"


def test_registry_is_well_formed() -> None:
    for code, (status, meaning) in codes.CODES.items():
        assert re.fullmatch(r"[a-z_]+(\.[a-z][a-z0-9_]*)?", code), code
        assert 400 <= status <= 599 and meaning, code


def test_api_doc_lists_exactly_the_registry() -> None:
    text = DOC.read_text(encoding="utf-8")
    begin, end = "<!-- codes:begin -->\n", "<!-- codes:end -->"
    assert begin in text and end in text, "docs/api.md lacks the generated code table"
    table = text.split(begin, 1)[1].split(end, 1)[0]
    assert table == codes.markdown(), \
        "docs/api.md's code table differs from vigil.codes: regenerate it with " \
        "python -c 'from vigil import codes; print(codes.markdown())'"
