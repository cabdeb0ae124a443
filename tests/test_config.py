"""vigil.config: one table of settings, each read through a typed property."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from vigil.config import SETTINGS, Settings, load_settings
from vigil.errors import ConfigError


def test_every_setting_has_a_property_of_its_kind() -> None:
    names = {s.name for s in SETTINGS} - {"data"}
    props = {n for n, v in inspect.getmembers(Settings) if isinstance(v, property)}
    assert names <= props
    hints = {n: inspect.signature(getattr(Settings, n).fget).return_annotation for n in names}
    for s in SETTINGS:
        if s.name != "data":
            assert hints[s.name] == s.kind.__name__, s.name


def test_values_come_typed_from_file_env_and_overrides(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vigil.toml").write_text('port = 9001\nnode_name = "alpha"\nkeepalive = 2\n')
    monkeypatch.setenv("VIGIL_MAX_BODY", "4096")
    s = load_settings(tmp_path, match_window="7.5")
    assert (s.port, s.node_name, s.keepalive, s.max_body, s.match_window) == (
        9001, "alpha", 2.0, 4096, 7.5)
    assert isinstance(s.keepalive, float) and isinstance(s.max_body, int)
    assert s.data_dir == tmp_path


def test_a_value_of_the_wrong_kind_or_an_unknown_setting_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIGIL_PORT", "eighty")
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path)
    assert e.value.code == "config.bad_value"
    monkeypatch.delenv("VIGIL_PORT")
    (tmp_path / "vigil.toml").write_text("colour = 1\n")
    with pytest.raises(ConfigError) as e:
        load_settings(tmp_path)
    assert e.value.code == "config.unknown_setting"
    with pytest.raises(AttributeError):
        Settings({}).__getattribute__("colour")
