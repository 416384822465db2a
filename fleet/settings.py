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
        raise ConfigError(f"{where}: invalid value {raw!r}: {exc}") from exc


def docs_table() -> str:
    """The settings table for docs/settings.md."""
    rows = ["| setting | environment | default | description |", "|---|---|---|---|"]
    for s in SETTINGS:
        default = "—" if s.default is None else f"`{s.default}`"
        rows.append(f"| `{s.name}` | `{s.env}` | {default} | {s.description} |")
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
