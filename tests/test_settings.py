from __future__ import annotations

from pathlib import Path

import pytest

from fleet import settings
from fleet.errors import ConfigError


def test_precedence_argument_env_file_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert settings.get("db_url") is None  # the store then lives in the state directory
    (tmp_path / "fleet.toml").write_text('[fleet]\ndb_url = "sqlite:///from-file.sqlite"\n')
    assert settings.get("db_url") == "sqlite:///from-file.sqlite"
    monkeypatch.setenv("FLEET_DB_URL", "sqlite:///from-env.sqlite")
    assert settings.get("db_url") == "sqlite:///from-env.sqlite"
    assert settings.get("db_url", "sqlite:///arg.sqlite") == "sqlite:///arg.sqlite"


def test_bad_values_name_their_source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FLEET_COLOR", "perhaps")
    with pytest.raises(ConfigError, match="FLEET_COLOR: invalid value 'perhaps'"):
        settings.get("color")
    (tmp_path / "fleet.toml").write_text("[fleet]\ndb_ulr = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'db_ulr'"):
        settings.get("db_url")


def test_docs_table_lists_every_setting() -> None:
    table = settings.docs_table()
    for s in settings.SETTINGS:
        assert f"`{s.env}`" in table
