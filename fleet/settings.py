"""Settings, each declared once: name, type, default, description.

Resolution order (first wins): explicit argument > ``FLEET_<NAME>`` environment variable >
config file (``fleet.toml`` in the working directory, or the file named by ``FLEET_CONFIG``)
> default.  ``docs/settings.md`` is generated from :data:`SETTINGS`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fleet.errors import ConfigError


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    type: Callable[[str], Any]
    default: Any
    description: str
    secret: bool = False
    """A secret: never printed; it may also sit in the vault as ``vault_<name>`` (see
    :func:`fleet.handoff.config.load_config`)."""

    @property
    def env(self) -> str:
        return "FLEET_" + self.name.upper()


def _bool(value: str) -> bool:
    low = value.strip().lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _glpi_api(value: str) -> str:
    low = value.strip().lower()
    if low not in {"v1", "v2"}:
        raise ValueError("expected v1 (apirest.php) or v2 (GLPI 11 api.php)")
    return low


def _port(value: str) -> int:
    port = int(value)
    if not 0 < port < 65536:
        raise ValueError("not a TCP port (1-65535)")
    return port


def _seconds(value: str) -> float:
    seconds = float(value)
    if not 0 < seconds <= 86400:
        raise ValueError("seconds, more than 0 and at most 86400")
    return seconds


def _size(value: str) -> int:
    size = int(value)
    if size < 64 * 1024:
        raise ValueError("bytes, at least 65536")
    return size


def _name(value: str) -> str:
    text = value.strip()
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("letters, digits, - and _ only")
    return text


SETTINGS: tuple[Setting, ...] = (
    Setting("inventory", Path, Path("inventory"), "Inventory directory (Ansible format)."),
    Setting(
        "vault_password_file",
        Path,
        None,
        "File (or executable script) giving the vault password. Default: the "
        "`vault-password` script beside the inventory directory, which gives the public demo password unless "
        "FLEET_VAULT_PASSWORD is set.",
    ),
    Setting(
        "state_dir",
        Path,
        Path("/var/lib/relais"),
        "Where Relais keeps its state on this machine: the default store (`fleet.sqlite`), the "
        "demo's store, the blocklists. An absolute path, so every command finds the same store "
        "from any directory.",
    ),
    Setting(
        "db_url",
        str,
        None,
        "Store URL: a SQLite file or postgresql+psycopg://user@host/db. Default: "
        "`sqlite:///<state_dir>/fleet.sqlite`. Only `fleet poll` (and deploy records, the "
        "connection-log import, the demo) create a store; every other command refuses a URL "
        "where there is none (a mistyped `--db` is an error, not an empty store).",
    ),
    Setting(
        "poll_interval",
        float,
        60.0,
        "Seconds between poll cycles (`fleet poll --daemon`); `fleet status` calls data older "
        "than 3 intervals stale.",
    ),
    Setting(
        "lang",
        str,
        None,
        "Language of the CLI's messages: `fr` or `en`. Default: English when the locale "
        "(LC_ALL, LC_MESSAGES, LANG) is English, else French.",
    ),
    Setting("lab_root", Path, Path("/var/lib/relais-lab"), "Lab images and per-host layers."),
    Setting("color", _bool, True, "Coloured terminal output."),
    # --- SAV hand-off (fleet/handoff, docs/operations.md): empty GLPI URL / SMTP host = off --
    Setting("glpi_url", str, None, "GLPI root URL (https://glpi.example.org/glpi); unset: no GLPI hand-off."),
    Setting("glpi_api", _glpi_api, "v1", "GLPI API: `v1` (apirest.php) or `v2` (GLPI 11 api.php, OAuth2)."),
    Setting("glpi_app_token", str, None, "GLPI API v1 application token (App-Token).", secret=True),
    Setting("glpi_user_token", str, None, "GLPI API v1 user token (remote access key).", secret=True),
    Setting("glpi_client_id", str, None, "GLPI API v2 OAuth client id."),
    Setting("glpi_client_secret", str, None, "GLPI API v2 OAuth client secret.", secret=True),
    Setting("glpi_username", str, None, "GLPI API v2 user (password grant)."),
    Setting("glpi_password", str, None, "GLPI API v2 password of that user.", secret=True),
    Setting("glpi_ca_file", Path, None, "CA bundle that signs GLPI's certificate; unset: the system's."),
    Setting("smtp_host", str, None, "SMTP relay of the e-mails to SAV suppliers; unset: no e-mail."),
    Setting("smtp_port", _port, 587, "SMTP port (the connection is always upgraded with STARTTLS)."),
    Setting("smtp_user", str, None, "SMTP login; unset: no authentication."),
    Setting("smtp_password", str, None, "SMTP password.", secret=True),
    Setting("smtp_from", str, None, "Sender address of the hand-off e-mails (required with smtp_host)."),
    Setting("smtp_ca_file", Path, None, "CA bundle that signs the SMTP server's certificate."),
    Setting(
        "handoff_instance",
        _name,
        "relais",
        "Name of this Relais installation in GLPI ticket keys and Message-IDs "
        "(`relais-<instance>-<incident>`): distinct per installation sharing one GLPI.",
    ),
    # --- the hotline dashboard (fleet/web, `fleet web`, docs/operations.md) ------------------
    Setting("web_host", str, "127.0.0.1",
            "Address `fleet web` listens on (behind a reverse proxy: keep loopback)."),
    Setting("web_port", _port, 8080, "Port `fleet web` listens on."),
    Setting(
        "web_trusted_proxies",
        str,
        "",
        "Comma-separated addresses/networks of the reverse proxy whose X-Forwarded-Proto/-For are "
        "believed (HTTPS detection for Secure cookies, client address for the login throttle); "
        "empty: none.",
    ),
    # --- remote actions, diagnostics, permissions (fleet/remote, fleet/permissions.py) -------
    Setting("user", str, None, "Who acts, recorded on each remote action (`--as` wins; default: OS login)."),
    Setting(
        "user_roles",
        str,
        None,
        "Roles of the actors, `USER:ROLE,USER:ROLE` (roles: auditor, hotline, technician, admin; "
        "the matrix is `fleet/permissions.yml`).",
    ),
    Setting("default_role", str, "technician", "Role of an actor not listed in `user_roles`."),
    Setting("remote_timeout", _seconds, 120.0, "Seconds a remote action's connection and commands may take."),
    Setting(
        "remote_boot_timeout",
        _seconds,
        300.0,
        "Seconds `reboot` and `wake` wait for the host to answer again.",
    ),
    Setting("diag_max_bytes", _size, 20 * 1024 * 1024, "Largest diagnostics bundle (`fleet diag`), bytes."),
    Setting("diag_timeout", _seconds, 60.0, "Seconds a diagnostics bundle may take to collect."),
    Setting(
        "agenda_cache",
        Path,
        None,
        "Where the sites' agendas (ICS) are cached for the hall screens, with the last good copy "
        "of each. Default: `agenda/` under the state directory.",
    ),
    Setting(
        "agenda_refresh_s",
        int,
        900,
        "Seconds before a site's agenda is fetched again (the hall screen page refreshes it "
        "when older; `fleet agenda refresh` does it at once).",
    ),
)

_BY_NAME: Mapping[str, Setting] = MappingProxyType({s.name: s for s in SETTINGS})


def _config_file(environ: Mapping[str, str]) -> dict[str, Any]:
    path = Path(environ.get("FLEET_CONFIG", "fleet.toml"))
    if not path.is_file():
        if "FLEET_CONFIG" in environ:
            raise ConfigError(f"{path}: FLEET_CONFIG names a file that does not exist")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc}") from exc
    section = data.get("fleet", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [fleet] must be a table")
    for key in section:
        if key not in _BY_NAME:
            raise ConfigError(f"{path}: unknown setting {key!r}")
    return section


def get(name: str, arg: Any = None, environ: Mapping[str, str] | None = None) -> Any:
    """Resolve one setting: argument > environment > config file > default."""
    setting = _BY_NAME[name]
    if arg is not None:
        return arg
    env = os.environ if environ is None else environ
    raw = env.get(setting.env)
    where = setting.env
    if raw is not None and raw.strip() == "" and setting.default is None:
        raw = None  # FLEET_GLPI_URL= (empty) means unset
    if raw is None:
        conf = _config_file(env)
        if name in conf:
            raw = str(conf[name])
            where = f"config file setting {name!r}"
    if raw is None:
        return setting.default
    try:
        return setting.type(raw)
    except (TypeError, ValueError) as exc:
        shown = "***" if setting.secret else repr(raw)
        raise ConfigError(f"{where}: invalid value {shown}: {exc}") from exc


def source(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Where :func:`get` finds ``name`` without an argument: its ``FLEET_*`` variable, the config
    file, or None (default).  Lets a caller put another source (the vault) before the default."""
    setting = _BY_NAME[name]
    env = os.environ if environ is None else environ
    raw = env.get(setting.env)
    if raw is not None and not (raw.strip() == "" and setting.default is None):
        return setting.env
    if name in _config_file(env):
        return "config file"
    return None


def docs_table() -> str:
    """The settings table for docs/settings.md."""
    rows = ["| setting | environment | default | description |", "|---|---|---|---|"]
    for s in SETTINGS:
        what = s.description
        if s.secret:
            what += f" Secret: never printed; may also be `vault_{s.name}` in the vault."
        default = "—" if s.default is None else f"`{s.default}`"
        rows.append(f"| `{s.name}` | `{s.env}` | {default} | {what} |")
    return "\n".join(rows) + "\n"


def _main() -> None:  # python -m fleet.settings > docs/settings.md
    print("# Settings\n")
    print(
        "Each setting resolves as: command-line argument > `FLEET_<NAME>` environment "
        "variable > `fleet.toml` (or the file named by `FLEET_CONFIG`, table `[fleet]`) > "
        "default.\n"
    )
    print(docs_table(), end="")


if __name__ == "__main__":
    _main()
