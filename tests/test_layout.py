"""The layout rules of ``docs/architecture.md``, read from the source with ``ast``:

- no import cycle between packages (a top-level module counts as a package of its own);
- ``vigil.client`` reaches, through every import it makes (lazy ones too), only
  member-side modules: the wire (``protocol``), ``crypto``, STIX checks, the model, errors and
  the pure pieces of ``log`` and ``policy`` — never node code;
- SQL text is written only in ``vigil/storage/`` (and in the test helpers of
  ``vigil/testing/``);
- no module is longer than ``MAX_LINES`` lines, unless it is a table of data.

(``decide_*`` outside ``vigil/policy/`` is ``tests/policy/test_gate_rule.py``.)

What does not follow a rule yet is named in ``tests/layout_allow.toml``. Every entry there
must still be needed: a stale entry fails too, so the list only shrinks."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

import vigil

SRC = Path(vigil.__file__).resolve().parent
ALLOW = tomllib.loads((Path(__file__).parent / "layout_allow.toml").read_text("utf-8"))

# What the member side may reach: whole packages (the wire, keys, STIX checks) and single
# modules (plain types, and the pure pieces of the log, the policy and observable
# extraction that a client needs to check proofs, decide a form and make blind tokens).
CLIENT_PACKAGES = ("vigil.client", "vigil.protocol", "vigil.crypto", "vigil.stix",
                   "vigil.intel")  # intel: pure rules and vocabularies beyond cyber
CLIENT_MODULES = (
    "vigil", "vigil.model", "vigil.errors", "vigil.codes", "vigil.clock", "vigil.params",
    "vigil.log", "vigil.log.merkle", "vigil.log.note", "vigil.log.checkpoint",
    "vigil.log.entries", "vigil.log.verifier",
    "vigil.policy", "vigil.policy.decide", "vigil.policy.suites", "vigil.policy.intel",
    "vigil.analysis", "vigil.analysis.observables", "vigil.analysis.extract", "vigil.interop",
    "vigil.interop.iocs",
)

MAX_LINES = 500  # a module longer than this holds more than one thing

SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM"
    r"|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)|ALTER\s+TABLE|DROP\s+(TABLE|INDEX))\b", re.S)


def module_name(path: Path, root: Path = SRC) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(SRC.rglob("*.py"))}


def imports_of(name: str, tree: ast.AST, is_package: bool, known: Iterable[str]) -> set[str]:
    """The vigil modules a module imports, anywhere in it (lazy imports included)."""
    known = set(known)
    here = name if is_package else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            out.add(target)
            out |= {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known}
    return {m for m in out if m == "vigil" or m.startswith("vigil.")}


@cache
def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports_of(name, ast.parse(path.read_text("utf-8"), str(path)),
                             path.name == "__init__.py", mods)
            for name, path in mods.items()}


def package_of(module: str) -> str:
    return ".".join(module.split(".")[:2])


def package_graph(g: Mapping[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a, targets in g.items():
        for b in targets:
            pa, pb = package_of(a), package_of(b)
            if pa != pb and "vigil" not in (pa, pb):
                out.setdefault(pa, set()).add(pb)
    return out


def cycles(g: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(g):
        if root in index:
            continue
        work = [(root, iter(sorted(g.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(g.get(w, ())))))
                elif w in on:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                comp = []
                while True:
                    x = stack.pop()
                    on.discard(x)
                    comp.append(x)
                    if x == v:
                        break
                if len(comp) > 1:
                    found.append(sorted(comp))
    return found


def allowed_edges() -> set[tuple[str, str]]:
    out = set()
    for edge in ALLOW["cycles"]["edges"]:
        a, _, b = edge.partition(" -> ")
        out.add((a.strip(), b.strip()))
    return out


def frontier(g: Mapping[str, set[str]], start: str) -> set[str]:
    """Edges ``m -> t`` by which the member side (``start`` and what it reaches through
    member-side modules) imports a module that is not member side."""
    seen = {start}
    todo = [start]
    out = set()
    while todo:
        m = todo.pop()
        for t in sorted(g.get(m, ())):
            if not may_client_reach(t):
                out.add(f"{m} -> {t}")
            elif t not in seen:
                seen.add(t)
                todo.append(t)
    return out


def may_client_reach(module: str) -> bool:
    return module in CLIENT_MODULES or any(module == p or module.startswith(p + ".")
                                           for p in CLIENT_PACKAGES)


def sql_modules() -> dict[str, int]:
    out = {}
    for name, path in modules().items():
        if package_of(name) in ("vigil.storage", "vigil.testing"):  # tests may write SQL
            continue
        tree = ast.parse(path.read_text("utf-8"), str(path))
        n = sum(1 for node in ast.walk(tree) if isinstance(node, ast.Constant)
                and isinstance(node.value, str) and SQL.search(node.value))
        if n:
            out[str(path.relative_to(SRC))] = n
    return out


def long_modules(limit: int = MAX_LINES) -> dict[str, int]:
    """Modules of more than ``limit`` lines, by path under ``vigil/``: their lengths."""
    out = {}
    for path in modules().values():
        with path.open("rb") as f:
            n = sum(1 for _ in f)
        if n > limit:
            out[str(path.relative_to(SRC))] = n
    return out


# --- the rules ---------------------------------------------------------------------------

def test_no_cycle_between_packages() -> None:
    pg = package_graph(graph())
    allow = allowed_edges()
    stale = sorted(f"{a} -> {b}" for a, b in allow if b not in pg.get(a, set()))
    assert stale == [], "allowed edges that no longer exist: remove them from layout_allow.toml"
    kept = {a: {b for b in bs if (a, b) not in allow} for a, bs in pg.items()}
    assert cycles(kept) == []
    needed = sorted(f"{a} -> {b}" for a, b in allow
                    if not cycles({**kept, a: kept.get(a, set()) | {b}}))
    assert needed == [], "allowed edges that close no cycle: remove them from layout_allow.toml"


def test_client_reaches_no_node_code() -> None:
    g = graph()
    assert "vigil.client" in g
    found = frontier(g, "vigil.client")
    allow = set(ALLOW["client"]["edges"])
    assert sorted(found - allow) == [], "member-side modules importing node code"
    assert sorted(allow - found) == [], "client entries no longer needed: remove them"


def test_sql_is_written_only_in_storage() -> None:
    found = sql_modules()
    allow = set(ALLOW["sql"]["modules"])
    assert sorted(set(found) - allow) == [], "SQL text outside vigil/storage/"
    assert sorted(allow - set(found)) == [], "SQL entries no longer needed: remove them"


def test_no_module_is_over_the_size_limit() -> None:
    found = long_modules()
    allow = set(ALLOW["size"]["tables"]) | set(ALLOW["size"]["splitting"])
    assert {m: n for m, n in found.items() if m not in allow} == {}, \
        f"modules over {MAX_LINES} lines: split them into modules named for what they hold"
    assert sorted(allow - set(found)) == [], "size entries no longer needed: remove them"


# --- the rules see what they should ------------------------------------------------------

def test_the_graph_sees_every_import_form() -> None:
    code = ("import vigil.a\nfrom vigil.b import x\nfrom . import c\nfrom ..d import e\n"
            "def f():\n    from vigil.g import h\n")
    got = imports_of("vigil.pkg.mod", ast.parse(code), False, {"vigil.pkg.c"})
    assert got == {"vigil.a", "vigil.b", "vigil.pkg", "vigil.pkg.c", "vigil.d", "vigil.g"}


def test_cycles_are_found() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": {"c"}}) == []
    assert package_graph({"vigil.x.m": {"vigil.y.n", "vigil.x.k"}}) == {"vigil.x": {"vigil.y"}}


def test_client_rule_tells_member_side_from_node() -> None:
    assert may_client_reach("vigil.crypto.sign")
    assert may_client_reach("vigil.log.merkle")
    assert not may_client_reach("vigil.log.tree")
    assert not may_client_reach("vigil.storage.base")
    assert not may_client_reach("vigil.policy.access")
    g = {"vigil.client": {"vigil.crypto.sign", "vigil.web"}, "vigil.web": {"vigil.storage"},
         "vigil.crypto.sign": {"vigil.crypto", "vigil.storage"}}
    assert frontier(g, "vigil.client") == {"vigil.client -> vigil.web",
                                           "vigil.crypto.sign -> vigil.storage"}


def test_the_size_rule_counts_lines() -> None:
    assert long_modules(0) and all(n > 0 for n in long_modules(0).values())
    longest = max(long_modules(0).items(), key=lambda kv: kv[1])
    assert long_modules(longest[1] - 1) == {longest[0]: longest[1]}
    assert long_modules(longest[1]) == {}


def test_sql_pattern() -> None:
    assert SQL.search("SELECT id FROM shares WHERE x = ?")
    assert SQL.search("INSERT INTO shares (a) VALUES (?)")
    assert SQL.search("delete the share") is None
    assert SQL.search("Select the channel from the list") is None
