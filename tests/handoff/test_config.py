"""Hand-off settings: FLEET_* > fleet.toml > vault > default, each declared once in
fleet/settings.py; clear one-line errors naming every place a value may come from; secrets
never shown."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from fleet import settings
from fleet.errors import ConfigError
from fleet.handoff.config import load_config
from fleet.inventory.secrets import VAULT_RELPATH, encrypt_vault

NAMES = (
    "FLEET_GLPI_URL",
    "FLEET_GLPI_API",
    "FLEET_GLPI_APP_TOKEN",
    "FLEET_GLPI_USER_TOKEN",
    "FLEET_GLPI_CLIENT_ID",
    "FLEET_GLPI_CLIENT_SECRET",
    "FLEET_GLPI_USERNAME",
    "FLEET_GLPI_PASSWORD",
    "FLEET_SMTP_HOST",
    "FLEET_SMTP_PORT",
    "FLEET_SMTP_USER",
    "FLEET_SMTP_PASSWORD",
    "FLEET_SMTP_FROM",
)


def test_every_setting_the_issue_names_is_declared_once_and_documented() -> None:
    envs = [s.env for s in settings.SETTINGS]
    for name in NAMES:
        assert envs.count(name) == 1, name
    table = Path(__file__).resolve().parents[2].joinpath("docs", "settings.md").read_text(encoding="utf-8")
    assert settings.docs_table() in table, (
        "docs/settings.md is stale: python -m fleet.settings > docs/settings.md"
    )


def test_environment_beats_file_beats_vault_beats_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    vault = {"vault_glpi_url": "https://vault.example/glpi", "vault_glpi_user_token": "from-vault-1234"}
    env: dict[str, str] = {}
    cfg = load_config(env, vault)
    assert cfg.glpi is not None and cfg.glpi.url == "https://vault.example/glpi" and cfg.glpi.api == "v1"
    assert cfg.glpi.user_token is not None and cfg.glpi.user_token.get_secret_value() == "from-vault-1234"
    (tmp_path / "fleet.toml").write_text('[fleet]\nglpi_url = "https://file.example/glpi/apirest.php"\n')
    cfg = load_config(env, vault)
    assert cfg.glpi is not None and cfg.glpi.url == "https://file.example/glpi"
    env["FLEET_GLPI_URL"] = "https://env.example/glpi/"
    cfg = load_config(env, vault)
    assert cfg.glpi is not None and cfg.glpi.url == "https://env.example/glpi"
    assert cfg.sources == {"glpi_url": "FLEET_GLPI_URL", "glpi_user_token": "vault"}
    (tmp_path / "fleet.toml").unlink()
    assert load_config({}, {}).channels == ()  # nothing configured: no channel


def test_missing_credentials_name_every_place_to_put_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(
        ConfigError,
        match=r"FLEET_GLPI_USER_TOKEN \(or glpi_user_token in fleet.toml, or "
        r"vault_glpi_user_token in the vault\) is required with GLPI API v1",
    ):
        load_config({"FLEET_GLPI_URL": "https://g.example"}, {})
    with pytest.raises(ConfigError, match=r"FLEET_GLPI_CLIENT_ID .* is required with GLPI API v2"):
        load_config({"FLEET_GLPI_URL": "https://g.example", "FLEET_GLPI_API": "v2"}, {})
    with pytest.raises(ConfigError, match="FLEET_GLPI_API: invalid value 'v3'"):
        load_config({"FLEET_GLPI_URL": "https://g.example", "FLEET_GLPI_API": "v3"}, {})
    with pytest.raises(ConfigError, match="not an http"):
        load_config({"FLEET_GLPI_URL": "glpi.example", "FLEET_GLPI_USER_TOKEN": "t"}, {})
    with pytest.raises(ConfigError, match="FLEET_SMTP_FROM"):
        load_config({"FLEET_SMTP_HOST": "smtp.example"}, {})
    with pytest.raises(ConfigError, match="FLEET_SMTP_PASSWORD"):
        load_config({"FLEET_SMTP_HOST": "smtp.example", "FLEET_SMTP_FROM": "a@b", "FLEET_SMTP_USER": "u"}, {})
    with pytest.raises(ConfigError, match="FLEET_SMTP_PORT: invalid value '99999'"):
        load_config({"FLEET_SMTP_HOST": "s", "FLEET_SMTP_FROM": "a@b", "FLEET_SMTP_PORT": "99999"}, {})


def test_secrets_are_never_shown(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    env = {
        "FLEET_GLPI_URL": "https://g.example",
        "FLEET_GLPI_API": "v2",
        "FLEET_GLPI_CLIENT_ID": "relais",
        "FLEET_GLPI_CLIENT_SECRET": "s3cret-client-777",
        "FLEET_GLPI_USERNAME": "bot",
        "FLEET_GLPI_PASSWORD": "s3cret-password-777",
        "FLEET_SMTP_HOST": "smtp.example",
        "FLEET_SMTP_FROM": "hotline@relais.example",
        "FLEET_SMTP_USER": "u",
        "FLEET_SMTP_PASSWORD": "s3cret-smtp-777",
    }
    cfg = load_config(env, {})
    shown = repr(cfg) + " ".join(cfg.describe()) + str(cfg.sources)
    assert "s3cret" not in shown
    assert sorted(cfg.secret_values()) == ["s3cret-client-777", "s3cret-password-777", "s3cret-smtp-777"]
    assert cfg.channels == ("glpi", "email")


def test_values_may_sit_in_the_real_encrypted_vault(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    inv = tmp_path / "inventory"
    (inv / VAULT_RELPATH).parent.mkdir(parents=True)
    (inv / VAULT_RELPATH).write_text(
        encrypt_vault(
            'vault_glpi_url: "https://vaulted.example/glpi"\nvault_glpi_user_token: "vaulted-9876"\n',
            "pw-for-test",
        )
    )
    pw = tmp_path / "pw.txt"
    pw.write_text("pw-for-test\n")
    pw.chmod(stat.S_IRUSR | stat.S_IWUSR)
    cfg = load_config({"FLEET_INVENTORY": str(inv), "FLEET_VAULT_PASSWORD_FILE": str(pw)})
    assert cfg.glpi is not None and cfg.glpi.url == "https://vaulted.example/glpi"
    assert cfg.glpi.user_token is not None and cfg.glpi.user_token.get_secret_value() == "vaulted-9876"
