"""vigil.log.merkle against the public vectors in tests/data/merkle (see its README).

- transparency-dev/merkle: 98 inclusion + 98 consistency probes, each with wantErr.
- C2SP CCTV: leaf and root hashes of 16 prefixes, 8 inclusion and 20 consistency cases.
- Proof *generation* is checked too: where a vector's tree is known (CCTV leaves a..p;
  the RFC 6962 test tree behind the transparency-dev happy paths), MemoryTree's proofs
  must equal the published ones.

The size-0 conflict between the two sets, decided: CCTV's consistency-valid.json lists
``0 -> 0`` and ``0 -> 1`` with an empty proof as valid; transparency-dev rejects every
proof with size1 == 0 (9 probes, e.g. additional/size1-is-zero-and-size2-is-not-zero:
root1 = the empty-tree hash, empty proof, wantErr). vigil rejects them: a proof
from the empty tree proves nothing (every tree extends it), RFC 9162 defines
consistency proofs only for 0 < m, and a verifier holding no earlier checkpoint must
handle that case itself instead of getting a success that looks like an audit. So the
two CCTV cases are expected to raise log.bad_consistency (test_cctv_size0_conflict).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from vigil.errors import CryptoError
from vigil.log.merkle import (
    MemoryTree,
    leaf_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "merkle"
TDEV = DATA / "transparency-dev"
CCTV = DATA / "cctv"

TDEV_INCLUSION = sorted(
    p.relative_to(TDEV).as_posix() for p in (TDEV / "inclusion").rglob("*.json")
)
TDEV_CONSISTENCY = sorted(
    p.relative_to(TDEV).as_posix() for p in (TDEV / "consistency").rglob("*.json")
)


def b64(value: str | None) -> bytes:
    return base64.b64decode(value) if value else b""


def hashes(values: list[str] | None) -> list[bytes]:
    return [b64(v) for v in values or []]


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def raises_bad(code: str, fn: Any, *args: Any) -> bool:
    """True if fn(*args) raised CryptoError with ``code``, False if it returned."""
    try:
        fn(*args)
    except CryptoError as e:
        assert e.code == code
        return True
    return False


# ------------------------------------------------------------------ transparency-dev


def test_transparency_dev_vector_counts() -> None:
    assert len(TDEV_INCLUSION) == 98
    assert len(TDEV_CONSISTENCY) == 98
    everything = [load(TDEV / n) for n in TDEV_INCLUSION + TDEV_CONSISTENCY]
    assert sum(not v["wantErr"] for v in everything) == 12  # the rest are mutations


@pytest.mark.parametrize("name", TDEV_INCLUSION)
def test_transparency_dev_inclusion(name: str) -> None:
    v = load(TDEV / name)
    failed = raises_bad(
        "log.bad_inclusion", verify_inclusion,
        b64(v["leafHash"]), v["leafIdx"], v["treeSize"], hashes(v["proof"]), b64(v["root"]),
    )
    assert failed == v["wantErr"], v["desc"]


@pytest.mark.parametrize("name", TDEV_CONSISTENCY)
def test_transparency_dev_consistency(name: str) -> None:
    v = load(TDEV / name)
    failed = raises_bad(
        "log.bad_consistency", verify_consistency,
        v["size1"], v["size2"], hashes(v["proof"]), b64(v["root1"]), b64(v["root2"]),
    )
    assert failed == v["wantErr"], v["desc"]


# The RFC 6962 test tree (transparency-dev/merkle proof/verify_test.go `leaves`): the
# tree every transparency-dev happy path is cut from. Its 8-leaf root is in the vectors.
RFC6962_LEAVES = [
    bytes.fromhex(h)
    for h in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
              "606162636465666768696a6b6c6d6e6f"]
]


def test_transparency_dev_proofs_are_what_memory_tree_generates() -> None:
    tree = MemoryTree([leaf_hash(d) for d in RFC6962_LEAVES])
    checked = 0
    for name in TDEV_INCLUSION:
        v = load(TDEV / name)
        if name.endswith("happy-path.json"):
            assert tree.get(0, v["leafIdx"]) == b64(v["leafHash"])
            assert tree.root(v["treeSize"]) == b64(v["root"])
            assert tree.inclusion_proof(v["leafIdx"], v["treeSize"]) == hashes(v["proof"])
            checked += 1
    for name in TDEV_CONSISTENCY:
        v = load(TDEV / name)
        if name.endswith("happy-path.json"):
            assert tree.root(v["size1"]) == b64(v["root1"])
            assert tree.root(v["size2"]) == b64(v["root2"])
            assert tree.consistency_proof(v["size1"], v["size2"]) == hashes(v["proof"])
            checked += 1
    assert checked == 10


# ------------------------------------------------------------------------------ CCTV

CCTV_TREE = load(CCTV / "merkle_tree.json")
CCTV_LEAVES = [leaf_hash(e["leaf_data"].encode()) for e in CCTV_TREE]


def cctv_cases(kind: str) -> list[tuple[str, int, dict[str, Any]]]:
    out = []
    for validity in ("valid", "invalid"):
        for i, case in enumerate(load(CCTV / f"{kind}-{validity}.json")):
            out.append((validity, i, case))
    return out


def test_cctv_vector_counts() -> None:
    assert len(CCTV_TREE) == 16
    assert len(cctv_cases("inclusion")) == 8
    assert len(cctv_cases("consistency")) == 20


@pytest.mark.parametrize("size", range(1, 17))
def test_cctv_tree_heads(size: int) -> None:
    entry = CCTV_TREE[size - 1]
    assert leaf_hash(entry["leaf_data"].encode()) == b64(entry["leaf_hash"])
    want = b64(entry["root_hash"])
    assert root_from_leaves(CCTV_LEAVES[:size]) == want
    assert MemoryTree(CCTV_LEAVES).root(size) == want
    assert MemoryTree(CCTV_LEAVES[:size]).root() == want


@pytest.mark.parametrize(("validity", "i", "case"), cctv_cases("inclusion"))
def test_cctv_inclusion(validity: str, i: int, case: dict[str, Any]) -> None:
    failed = raises_bad(
        "log.bad_inclusion", verify_inclusion,
        b64(case["leaf_hash"]), case["leaf_index"], case["tree_size"],
        hashes(case["inclusion_path"]), b64(case["root_hash"]),
    )
    assert failed == (validity == "invalid"), case.get("comment")
    if validity == "valid":  # and MemoryTree generates exactly this proof
        tree = MemoryTree(CCTV_LEAVES)
        assert tree.root(case["tree_size"]) == b64(case["root_hash"])
        assert tree.inclusion_proof(case["leaf_index"], case["tree_size"]) == hashes(
            case["inclusion_path"]
        )


def cctv_size0(case: dict[str, Any]) -> bool:
    return bool(case["old_size"] == 0)


@pytest.mark.parametrize(("validity", "i", "case"), cctv_cases("consistency"))
def test_cctv_consistency(validity: str, i: int, case: dict[str, Any]) -> None:
    failed = raises_bad(
        "log.bad_consistency", verify_consistency,
        case["old_size"], case["new_size"], hashes(case["consistency_path"]),
        b64(case["old_root"]), b64(case["new_root"]),
    )
    # vigil's decision: a consistency proof from size 0 is rejected (module docstring).
    expect_failure = validity == "invalid" or cctv_size0(case)
    assert failed == expect_failure, case.get("comment")
    if not failed:
        tree = MemoryTree(CCTV_LEAVES)
        assert tree.consistency_proof(case["old_size"], case["new_size"]) == hashes(
            case["consistency_path"]
        )


def test_cctv_size0_conflict() -> None:
    """The one disagreement between the vector sets, pinned: CCTV's valid size-0 cases
    are exactly the two vigil rejects, and transparency-dev agrees with vigil."""
    size0_valid = [c for v, _, c in cctv_cases("consistency") if v == "valid" and cctv_size0(c)]
    assert [(c["old_size"], c["new_size"]) for c in size0_valid] == [(0, 0), (0, 1)]
    for c in size0_valid:
        assert c["old_root"] == base64.b64encode(root_from_leaves([])).decode()
        assert c["consistency_path"] == []
        with pytest.raises(CryptoError) as e:
            verify_consistency(c["old_size"], c["new_size"], [], b64(c["old_root"]),
                               b64(c["new_root"]))
        assert e.value.code == "log.bad_consistency"
    tdev_size0 = [load(TDEV / n) for n in TDEV_CONSISTENCY]
    tdev_size0 = [v for v in tdev_size0 if v["size1"] == 0]
    assert len(tdev_size0) == 9  # 7 in consistency/additional, 2 mutated sizes
    assert all(v["wantErr"] for v in tdev_size0)
