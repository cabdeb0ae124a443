"""Tests mirror the modules (``docs/architecture.md``): ``src/vigil/<pkg>/<mod>.py`` has its
tests in ``tests/<pkg>/test_<mod>.py`` (a top-level ``vigil/<mod>.py`` in
``tests/test_<mod>.py``), and that file holds at least one test.

Two folders of ``tests/`` sit elsewhere than their package: ``FOLDERS`` names them.

Exempt by rule, not by list: a package's ``__init__.py`` and ``__main__.py``, and a module
that defines no function (constants, plain types, re-exports) — there is no behaviour of
its own to test.

What has no mirrored test yet is named in ``tests/mirror_allow.toml``. Every entry there must
still be needed: an entry whose module now has its test file (or is gone, or became trivial)
fails too, so the list only shrinks."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import vigil

SRC = Path(vigil.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent
ALLOW = tomllib.loads((TESTS / "mirror_allow.toml").read_text("utf-8"))

# package folder under vigil/ -> its folder under tests/, where the two differ
FOLDERS = {"web/console": "console", "testbed": "federation/bed"}


def mirror_of(module: str) -> str:
    """The test file of a module, both as paths under ``vigil/`` and ``tests/``."""
    path = Path(module)
    folder = path.parent.as_posix()
    folder = FOLDERS.get(folder, folder)
    return (Path(folder) / f"test_{path.stem}.py").as_posix().removeprefix("./")


def is_trivial(source: str) -> bool:
    """A module that defines no function, at any depth: constants, types, re-exports."""
    tree = ast.parse(source)
    return not any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
                   for n in ast.walk(tree))


def holds_a_test(source: str) -> bool:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) \
                and node.name.startswith("test_"):
            return True
    return False


def modules_to_mirror(src: Path = SRC) -> list[str]:
    out = []
    for path in sorted(src.rglob("*.py")):
        if path.name in ("__init__.py", "__main__.py"):
            continue
        if is_trivial(path.read_text("utf-8")):
            continue
        out.append(path.relative_to(src).as_posix())
    return out


def unmirrored(src: Path = SRC, tests: Path = TESTS) -> list[str]:
    """Modules under ``src`` whose mirrored test file under ``tests`` is missing or holds
    no test."""
    out = []
    for module in modules_to_mirror(src):
        test = tests / mirror_of(module)
        if not (test.is_file() and holds_a_test(test.read_text("utf-8"))):
            out.append(module)
    return out


# --- the rule ----------------------------------------------------------------------------

def test_every_module_has_its_mirrored_test_file() -> None:
    found = set(unmirrored())
    allow = set(ALLOW["unmirrored"]["modules"])
    missing = sorted(found - allow)
    assert missing == [], ("modules without their test file: write "
                           + ", ".join(f"tests/{mirror_of(m)}" for m in missing))
    assert sorted(allow - found) == [], \
        "mirror_allow.toml entries no longer needed: remove them"


def test_the_allow_list_is_sorted_and_unique() -> None:
    entries = ALLOW["unmirrored"]["modules"]
    assert entries == sorted(set(entries))


# --- the rule sees what it should --------------------------------------------------------

def test_mirror_paths() -> None:
    assert mirror_of("node/publishing.py") == "node/test_publishing.py"
    assert mirror_of("lru.py") == "test_lru.py"
    assert mirror_of("web/console/deps.py") == "console/test_deps.py"
    assert mirror_of("web/deps.py") == "web/test_deps.py"


def test_trivial_modules_are_told_apart() -> None:
    assert is_trivial('"""Doc."""\nfrom x import y as y\nA = 1\nclass T:\n    a: int\n')
    assert not is_trivial("def f() -> int:\n    return 1\n")
    assert not is_trivial("class C:\n    def m(self) -> None:\n        pass\n")
    assert not is_trivial("key = lambda x: x\n")


def test_a_module_without_its_test_file_is_found(tmp_path: Path) -> None:
    src, tests = tmp_path / "src", tmp_path / "tests"
    for rel, text in {"pkg/__init__.py": "def f(): pass\n", "pkg/logic.py": "def f(): pass\n",
                      "pkg/consts.py": "A = 1\n", "pkg/done.py": "def g(): pass\n",
                      "pkg/empty.py": "def h(): pass\n", "top.py": "def t(): pass\n"}.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    (tests / "pkg").mkdir(parents=True)
    (tests / "pkg" / "test_done.py").write_text("def test_g() -> None:\n    pass\n")
    (tests / "pkg" / "test_empty.py").write_text("X = 1\n")  # a test file with no test
    (tests / "pkg" / "test_logic.py").write_text("def helper() -> None:\n    pass\n")
    assert unmirrored(src, tests) == ["pkg/empty.py", "pkg/logic.py", "top.py"]
    (tests / "test_top.py").write_text("async def test_t() -> None:\n    pass\n")
    assert unmirrored(src, tests) == ["pkg/empty.py", "pkg/logic.py"]
