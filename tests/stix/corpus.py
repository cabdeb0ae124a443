"""Shared helpers of the STIX tests: where the data is, how objects are pulled out of
the real corpora, the mutation corpus, and the reference validator (stix2-validator).

Regenerate the cached reference verdicts (needs ``stix2-validator`` and, for the
corpus, ``shared/data``)::

    python -m tests.stix.corpus mutations     # tests/data/stix/oracle-mutations.json
    python -m tests.stix.corpus corpus        # tests/data/stix/oracle-corpus.json

Entries whose object (mutants: by digest) or file (corpus: by SHA-256) is unchanged
are reused; add ``--all`` to recompute everything (mutants ~2 min, corpus ~10 min, as
stix2-validator takes ~7 ms an object). stix2-validator must be 3.3.2: the PyPI wheel
of 3.3.1 has no JSON schemas and rejects every object.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "stix"
SHARED = Path(os.environ.get("VIGIL_SHARED_DATA", ROOT.parent / "shared" / "data"))

ORACLE_CORPUS = DATA / "oracle-corpus.json"
ORACLE_MUTATIONS = DATA / "oracle-mutations.json"
SEEDS = DATA / "seeds.json"

# Corpus files checked object by object against stix2-validator (relative to shared/data).
CORPUS_GLOBS = (
    "attack/*.json.gz",
    "oasis/cti-documentation-examples/*.json",
    "oasis/stix2-json-schemas-examples/**/*.json",
    "oasis/stix-validator-test-examples/v21/test_examples/*.json",
    "oasis/python-stix2-test-data/**/*.json",
    "oasis/medallion/default_data.json",
    "oasis/tlp2/*.json",
    "misp/misp-stix/**/*.json",
    "reports/**/*.json",
)


def load_json(path: Path) -> Any:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return json.load(f)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_stix_object(x: Any) -> bool:
    return (
        isinstance(x, dict)
        and isinstance(x.get("type"), str)
        and isinstance(x.get("id"), str)
        and "--" in x["id"]
        and x["type"] != "bundle"
    )


def extract_objects(doc: Any) -> list[dict[str, Any]]:
    """Every STIX object in a document (bundles, single objects, and the objects
    embedded in misp-stix mapping files or TAXII server data), in document order."""
    out: list[dict[str, Any]] = []

    def walk(x: Any) -> None:
        if is_stix_object(x):
            out.append(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    return out


def corpus_files(shared: Path = SHARED) -> list[Path]:
    files: set[Path] = set()
    for pattern in CORPUS_GLOBS:
        files.update(p for p in shared.glob(pattern) if p.is_file())
    return sorted(files)


def corpus(shared: Path = SHARED) -> Iterator[tuple[str, Path, list[dict[str, Any]]]]:
    """(relative name, path, objects) for every corpus file holding STIX objects."""
    for path in corpus_files(shared):
        try:
            doc = load_json(path)
        except ValueError:  # the validator's own invalid-JSON examples
            continue
        objects = extract_objects(doc)
        if objects:
            yield path.relative_to(shared).as_posix(), path, objects


# --- the reference validator -------------------------------------------------------


def reference_problem() -> str | None:
    """Why stix2-validator cannot serve as the reference here, or None if it can. (The
    PyPI wheel of stix2-validator 3.3.1 ships without its JSON schemas and rejects
    every object; 3.3.2 is fine.)"""
    try:
        import stix2validator  # noqa: F401
    except ImportError:
        return "stix2-validator is not installed"
    ok, why = reference_verdict(load_seeds()[0])
    if not ok:
        return f"this stix2-validator install rejects a valid object ({why[:80]}); use 3.3.2"
    return None


def reference_verdict(obj: dict[str, Any]) -> tuple[bool, str]:
    """stix2-validator's accept/reject of one object (STIX 2.1, default options)."""
    from stix2validator import ValidationOptions, validate_instance

    try:
        result = validate_instance(copy.deepcopy(obj), ValidationOptions(version="2.1"))
    except Exception as exc:  # the validator crashes on some malformed input
        return False, f"validator raised {type(exc).__name__}: {exc}"[:300]
    if result.is_valid:
        return True, ""
    return False, str(result.errors[0])[:300]


# --- the mutation corpus -------------------------------------------------------------

TS_VARIANTS = {
    "no-millis": "2024-05-01T10:00:00Z",
    "month13": "2024-13-01T10:00:00.000Z",
    "feb30": "2023-02-30T10:00:00.000Z",
    "feb29-leap": "2024-02-29T10:00:00.000Z",
    "feb29-noleap": "2023-02-29T10:00:00.000Z",
    "leap-second": "2016-12-31T23:59:60.000Z",
    "space": "2024-05-01 10:00:00.000Z",
    "offset": "2024-05-01T10:00:00.000+00:00",
    "lowercase-z": "2024-05-01T10:00:00.000z",
    "earlier": "2001-01-01T00:00:00.000Z",
    "later": "2099-01-01T00:00:00.000Z",
    "nanos": "2024-05-01T10:00:00.123456789Z",
    "date-only": "2024-05-01",
}
ID_VARIANTS = {
    "other-type": "indicator--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10",
    "bad-uuid": "{type}--not-a-uuid",
    "uppercase-uuid": "{type}--6B1F0D3C-5A34-4C5F-9A44-8F0B1F5E2A10",
    "uuid-v0": "{type}--6b1f0d3c-5a34-0c5f-9a44-8f0b1f5e2a10",
    "uuid-v5": "{type}--6b1f0d3c-5a34-5c5f-9a44-8f0b1f5e2a10",
    "bad-variant": "{type}--6b1f0d3c-5a34-4c5f-1a44-8f0b1f5e2a10",
    "no-type": "6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10",
}
REF_VARIANTS = {
    "ref-identity": "identity--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a11",
    "ref-marking": "marking-definition--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a12",
    "ref-ipv4": "ipv4-addr--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a13",
    "ref-relationship": "relationship--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a14",
    "ref-custom": "x-acme-thing--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a15",
    "ref-garbage": "not an id",
}
VALUE_VARIANTS: dict[str, Any] = {
    "null": None,
    "empty-list": [],
    "empty-dict": {},
    "int": 7,
    "negative": -1,
    "float": 1.5,
    "bool": True,
    "str": "x",
    "empty-str": "",
    "list-null": [None],
    "list-int": [7],
    "huge": 10**12,
}
CUSTOM_PROPERTIES: dict[str, Any] = {
    "x_acme_ok": "fine",
    "x_acme_list": ["a"],
    "x_acme_dict": {"k": 1},
    "ab": 1,
    "X_Upper": 1,
    "x-hyphen": 1,
    "9lives": 1,
    "some_id": None,
    "x_acme_null": None,
    "x_acme_empty": [],
    "x_acme_bin": "not base64!",
    "x_acme_hex": "xyz",
    "x_acme_good_bin": "aGk=",
    "x_acme_good_hex": "0a0b",
    "x_acme_ref": "not an id",
    "x_acme_refs": ["not an id"],
    "severity": "high",
    "action": "x",
    "username": "u",
    "phone_numbers": ["1"],
}
PATTERNS = [
    "[ipv4-addr:value = '198.51.100.1']",
    "[ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '198.51.100.2']",
    "[domain-name:value = 'x.example'] AND [url:value = 'http://x.example/a\\'b']",
    "[file:hashes.'SHA-256' = '" + "a" * 64 + "']",
    "[file:hashes.'SHA-256' = '" + "a" * 63 + "']",
    "[file:hashes.MD5 = '" + "b" * 32 + "']",
    "[file:hashes.MD5 = '" + "g" * 32 + "']",
    "[file:hashes.SHA1 = '" + "c" * 40 + "']",
    "[file:hashes.'SHA-1' = '" + "c" * 39 + "']",
    "[file:hashes.SHA-256 = '" + "a" * 64 + "']",
    "[file:hashes.TLSH = 'anything']",
    "[file:hashes.'SSDEEP' = '3:a+b:c']",
    "[file:hashes.'SSDEEP' = 'bad ssdeep!']",
    "[file:name = 'a\\\\b.exe']",
    "[file:name = 'a\\qb']",
    "[file:name = '']",
    "[file:size > 1000]",
    "[file:size > 1000 AND file:name LIKE '%.exe']",
    "[url:value MATCHES '^https?://']",
    "[ipv4-addr:value ISSUBSET '198.51.100.0/24']",
    "[email-message:from_ref.value = 'a@example.com']",
    "[network-traffic:dst_port = 443] REPEATS 5 TIMES WITHIN 10 SECONDS",
    "[network-traffic:dst_port = 443] WITHIN 10 SECONDS WITHIN 5 SECONDS",
    "[process:pid = 4] START t'2016-01-01T00:00:00Z' STOP t'2016-01-02T00:00:00Z'",
    "[process:name = 'x'] FOLLOWEDBY [process:name = 'y']",
    "([ipv4-addr:value = '1.2.3.4'] OR [ipv4-addr:value = '1.2.3.5'])",
    "[windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\x']",
    "[x-acme-thing:value = 'x']",
    "[x:value = 'x']",
    "[X-Acme:value = 'x']",
    "[file:Name = 'x']",
    "[file:x_acme_Upper = 'x']",
    "[file:x_acme_lower = 'x']",
    "[file:ab = 'x']",
    "[file:id = 'file--6b1f0d3c-5a34-4c5f-9a44-8f0b1f5e2a10']",
    "[network-traffic:start = '2016-01-01T00:00:00Z']",
    "[ipv4-addr:value = '1.2.3.4'",
    "ipv4-addr:value = '1.2.3.4'",
    "[ipv4-addr:value == '1.2.3.4']",
    '[ipv4-addr:value = "1.2.3.4"]',
    "[ipv4-addr:value = '1.2.3.4'] and [ipv4-addr:value = '1.2.3.5']",
    "[ipv4-addr:value = '1.2.3.4' AND]",
    "[]",
    "",
    "   [ipv4-addr:value = '1.2.3.4']   ",
    "[ipv4-addr:value='1.2.3.4']",
    "[ ipv4-addr:value = '1.2.3.4' ]",
    "[ipv4-addr:value = '1.2.3.4']\n",
    "[ipv4-addr : value = '1.2.3.4']",
    "[file:hashes.'SHA-256' = '" + "a" * 64 + "' OR file:hashes.MD5 = '" + "b" * 32 + "']",
    "[artifact:payload_bin = b'aGVsbG8=']",
    "[artifact:payload_bin = h'0a']",
    "[file:true = 'x']",
    "[user-account:account_login = 'root' AND user-account:is_privileged = true]",
    "[email-addr:value = 'a@b.c'] OR [mac-addr:value = '00:11:22:33:44:55']",
    "[software:name = 'x' AND software:vendor = 'y' AND software:version = '1']",
    "[file:hashes.MD6 = '" + "d" * 32 + "']",
    "[file:hashes.'RIPEMD-160' = '" + "e" * 40 + "']",
    "[file:hashes.WHIRLPOOL = 'f']",
    "[file:extensions.'windows-pebinary-ext'.sections[*].hashes.MD5 = '" + "b" * 32 + "']",
    "[file:parent_directory_ref.path = 'C:\\\\Windows']",
]


# Hand-picked cases that show the deliberate differences listed in differences.py
# (seed type, path, new value, name).
DIFFERENCE_EXAMPLES: list[tuple[str, tuple[str | int, ...], Any, str]] = [
    ("indicator", ("lang",), "en-IN", "lang-not-in-validator-list"),
    ("indicator", ("lang",), "de-CH-1996", "lang-variant"),
    ("directory", ("path_enc",), "utf-8", "charset-lowercase"),
    ("artifact", ("mime_type",), "application/x-acme-thing", "mime-unregistered"),
    ("software", ("languages",), ["qaa"], "software-lang-unlisted"),
    ("software", ("cpe",), "cpe:2.3:a:acme:widget:1.0:*:*:*:*:*:*:*:extra", "cpe-extra-part"),
    ("ipv6-addr", ("value",), "::ffff:192.0.2.1", "ipv6-ipv4-mapped"),
    ("ipv6-addr", ("value",), "2001:db8::1/64", "ipv6-cidr"),
    ("url", ("value",), "https://example.com/\n", "uri-trailing-newline"),
    ("indicator", ("name",), "fine", "control"),
    ("campaign", ("modified",), "2024-05-01T10:00:00.0000000Z", "modified-7-fraction-digits"),
    ("file", ("hashes",), {"SHA-256": "a" * 64 + "\n"}, "hash-trailing-newline"),
    ("domain-name", ("value",), "bücher.example", "idn-hostname"),
    ("domain-name", ("value",), "Bücher.example", "idn-hostname-uppercase"),
    ("domain-name", ("value",), "under_score.example", "hostname-underscore"),
]


def load_seeds() -> list[dict[str, Any]]:
    seeds: list[dict[str, Any]] = json.loads(SEEDS.read_text(encoding="utf-8"))
    return seeds


def _leaves(
    value: Any, path: tuple[str | int, ...], depth: int
) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    yield path, value
    if depth >= 3:
        return
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k), depth + 1)
    elif isinstance(value, list) and value:
        yield from _leaves(value[0], (*path, 0), depth + 1)


def _set(obj: dict[str, Any], path: tuple[str | int, ...], value: Any, *, delete: bool) -> None:
    node: Any = obj
    for p in path[:-1]:
        node = node[p]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value


def _mutant(
    seed: dict[str, Any],
    tag: str,
    name: str,
    path: tuple[str | int, ...],
    value: Any = None,
    *,
    delete: bool = False,
) -> tuple[str, dict[str, Any]]:
    obj = copy.deepcopy(seed)
    _set(obj, path, value, delete=delete)
    return f"{tag}:{'/'.join(map(str, path))}:{name}", obj


def mutations() -> Iterator[tuple[str, dict[str, Any]]]:
    """Deterministic (name, object) mutants of the seed objects."""
    done_examples: set[str] = set()
    for si, seed in enumerate(load_seeds()):
        tag = f"{si}:{seed['type']}"

        for path, value in _leaves(seed, (), 0):
            if not path or path == ("type",):
                continue
            if not isinstance(path[-1], int):
                yield _mutant(seed, tag, "drop", path, delete=True)
            for label, new in VALUE_VARIANTS.items():
                if new != value or type(new) is not type(value):
                    yield _mutant(seed, tag, label, path, copy.deepcopy(new))
            if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and "T" in value:
                for label, new in TS_VARIANTS.items():
                    yield _mutant(seed, tag, label, path, new)
            if isinstance(value, str) and "--" in value and len(path) >= 1:
                for label, new in REF_VARIANTS.items():
                    if new != value:
                        yield _mutant(seed, tag, label, path, new)
        for label, new in ID_VARIANTS.items():
            yield _mutant(seed, tag, label, ("id",), new.format(type=seed["type"]))
        for label, new in (("2.0", "2.0"), ("2.2", "2.2"), ("number", 2.1)):
            yield _mutant(seed, tag, f"spec_version-{label}", ("spec_version",), new)
        for label, new in (
            ("upper", "X-Acme"),
            ("short", "ab"),
            ("long", "x" * 251),
            ("action", "action"),
            ("underscore", "x_acme"),
            ("custom", "x-acme-renamed"),
            ("bundle", "bundle"),
        ):
            yield _mutant(seed, tag, f"type-{label}", ("type",), new)
        for key, new in CUSTOM_PROPERTIES.items():
            yield _mutant(seed, tag, "add", (key,), copy.deepcopy(new))
        if seed["type"] == "indicator" and seed.get("pattern_type") == "stix" and si == 6:
            for i, pattern in enumerate(PATTERNS):
                yield _mutant(seed, tag, f"pattern{i}", ("pattern",), pattern)
        for type_, path, value, label in DIFFERENCE_EXAMPLES:
            if type_ == seed["type"] and type_ not in done_examples:
                yield _mutant(seed, tag, label, path, copy.deepcopy(value))
        done_examples.add(seed["type"])


def object_digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:10]


def load_mutation_oracle() -> dict[str, list[Any]]:
    """name -> [object digest, valid, first error] (cached stix2-validator verdicts)."""
    if not ORACLE_MUTATIONS.exists():
        return {}
    verdicts: dict[str, list[Any]] = json.loads(ORACLE_MUTATIONS.read_text())["verdicts"]
    return verdicts


def _short(why: str, obj: dict[str, Any]) -> str:
    """The validator's message without the leading object id, cut to 100 characters."""
    oid = obj.get("id")
    if isinstance(oid, str) and why.startswith(oid + ": "):
        why = why[len(oid) + 2 :]
    return why[:100]


def regenerate_mutations(*, reuse: bool = True) -> None:
    """Recompute the verdicts (reusing cached ones whose object is unchanged)."""
    old = load_mutation_oracle() if reuse else {}
    verdicts: dict[str, list[Any]] = {}
    fresh = 0
    for name, obj in mutations():
        digest = object_digest(obj)
        cached = old.get(name)
        if cached is not None and cached[0] == digest:
            verdicts[name] = cached
            continue
        ok, why = reference_verdict(obj)
        verdicts[name] = [digest, ok, _short(why, obj)]
        fresh += 1
    lines = ",\n".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(verdicts.items()))
    ORACLE_MUTATIONS.write_text(
        f'{{"validator": {json.dumps(_validator_version())},\n"verdicts": {{\n{lines}\n}}}}\n',
        encoding="utf-8",
    )
    print(f"{len(verdicts)} mutants ({fresh} recomputed) -> {ORACLE_MUTATIONS}")


def encode_ranges(indices: list[int]) -> str:
    """[0, 1, 2, 5, 7, 8] -> "0-2,5,7-8"."""
    out: list[str] = []
    i = 0
    while i < len(indices):
        j = i
        while j + 1 < len(indices) and indices[j + 1] == indices[j] + 1:
            j += 1
        out.append(str(indices[i]) if i == j else f"{indices[i]}-{indices[j]}")
        i = j + 1
    return ",".join(out)


def decode_ranges(text: str) -> set[int]:
    out: set[int] = set()
    for part in filter(None, text.split(",")):
        a, _, b = part.partition("-")
        out.update(range(int(a), int(b or a) + 1))
    return out


def load_corpus_oracle() -> dict[str, Any]:
    """relative file -> {"sha256", "count", "rejected" (index ranges), "examples"}."""
    if not ORACLE_CORPUS.exists():
        return {}
    files: dict[str, Any] = json.loads(ORACLE_CORPUS.read_text())["files"]
    return files


def corpus_entry(path: Path, objects: list[dict[str, Any]]) -> dict[str, Any]:
    rejected: list[int] = []
    examples: dict[str, str] = {}
    for i, obj in enumerate(objects):
        ok, why = reference_verdict(obj)
        if not ok:
            rejected.append(i)
            if len(examples) < 5:
                examples[str(i)] = why[:160]
    return {
        "sha256": sha256(path),
        "count": len(objects),
        "rejected": encode_ranges(rejected),
        "examples": examples,
    }


def regenerate_corpus(shared: Path = SHARED, *, reuse: bool = True) -> None:
    """Recompute the corpus verdicts (reusing entries of files whose bytes are unchanged)."""
    old = load_corpus_oracle() if reuse else {}
    files: dict[str, Any] = {}
    for path in corpus_files(shared):
        rel = path.relative_to(shared).as_posix()
        cached = old.get(rel)
        if cached is not None and cached["sha256"] == sha256(path):
            files[rel] = cached
            continue
        try:
            objects = extract_objects(load_json(path))
        except ValueError:  # not JSON (the validator's own negative examples)
            objects = []
        files[rel] = corpus_entry(path, objects)
        print(
            f"{rel}: {len(objects)} objects, rejected {files[rel]['rejected'] or 'none'}",
            file=sys.stderr,
        )
    ORACLE_CORPUS.write_text(
        json.dumps({"validator": _validator_version(), "files": files}, indent=1, sort_keys=True)
        + "\n",
        encoding="utf-8",
    )


def _validator_version() -> str:
    from importlib.metadata import version

    return (
        f"stix2-validator {version('stix2-validator')}, stix2-patterns {version('stix2-patterns')}"
    )


if __name__ == "__main__":
    what = sys.argv[1:] or ["mutations"]
    if "mutations" in what:
        regenerate_mutations(reuse="--all" not in what)
    if "corpus" in what:
        regenerate_corpus(reuse="--all" not in what)
