"""The theme vocabulary and theme filters."""

from __future__ import annotations

from vigil.intel.themes import SUBTHEMES, matches, vocabulary
from vigil.model import THEMES


def test_the_vocabulary_lists_each_theme_before_its_subthemes() -> None:
    words = vocabulary()
    assert len(words) == len(set(words)) == len(THEMES) + sum(map(len, SUBTHEMES.values()))
    for top in THEMES:
        for sub in SUBTHEMES.get(top, ()):
            assert sub.startswith(top + "/") and words.index(top) < words.index(sub)


def test_a_theme_matches_itself_and_its_refinements_only() -> None:
    assert matches(["terrorism/financing"], ["terrorism"])
    assert matches(("terrorism",), ("cyber", "terrorism"))
    assert not matches(["terrorism"], ["terrorism/financing"])
    assert not matches(["terrorismx"], ["terrorism"])  # a prefix is not a refinement
    assert not matches([], ["cyber"]) and not matches(["cyber"], [])
