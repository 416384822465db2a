"""The hand-off's settings, resolved once into typed, frozen objects.

Each value comes from (first wins) the ``FLEET_*`` environment variable, ``fleet.toml``, then
the vault as ``vault_<setting>`` (e.g. ``vault_glpi_user_token``), then the default — the
settings themselves are declared once in :mod:`fleet.settings`.  Secrets stay
:class:`~pydantic.SecretStr` and are never printed; :meth:`HandoffConfig.secret_values` lists
them so error texts can be scrubbed before they are stored or shown.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from fleet import settings
from fleet.errors import ConfigError, SecretError
from fleet.inventory.secrets import VAULT_RELPATH, decrypt_vault, default_password_file, password_from
from fleet.store.outbox import EMAIL, GLPI

GLPI_TIMEOUT = 10.0
SMTP_TIMEOUT = 30.0


@dataclass(frozen=True, slots=True)
class GlpiConfig:
    url: str
    """GLPI's root, without a trailing slash (``https://glpi.example.org/glpi``)."""
    api: str
    app_token: SecretStr | None = None
    user_token: SecretStr | None = None
    client_id: str | None = None
    client_secret: SecretStr | None = None
    username: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    timeout: float = GLPI_TIMEOUT


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: SecretStr | None = None
    ca_file: Path | None = None
    timeout: float = SMTP_TIMEOUT

    @property
    def domain(self) -> str:
        return self.sender.rsplit("@", 1)[-1].strip(" >") or "relais.invalid"


@dataclass(frozen=True, slots=True)
class HandoffConfig:
    glpi: GlpiConfig | None = None
    smtp: SmtpConfig | None = None
    instance: str = "relais"
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where each value came from (``FLEET_GLPI_URL``, ``fleet.toml``, ``vault``): for messages."""

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(c for c, on in ((GLPI, self.glpi), (EMAIL, self.smtp)) if on is not None)

    def secret_values(self) -> tuple[str, ...]:
        out: list[str] = []
        for secret in (
            *(
                (self.glpi.app_token, self.glpi.user_token, self.glpi.client_secret, self.glpi.password)
                if self.glpi
                else ()
            ),
            *((self.smtp.password,) if self.smtp else ()),
        ):
            if secret is not None:
                out.append(secret.get_secret_value())
        return tuple(out)

    def describe(self) -> list[str]:
        """What is configured, for the CLI (never a secret's value)."""
        lines = []
        if self.glpi:
            lines.append(f"GLPI {self.glpi.api} at {self.glpi.url}")
        if self.smtp:
            lines.append(f"e-mail via {self.smtp.host}:{self.smtp.port} from {self.smtp.sender}")
        return lines or ["nothing configured (FLEET_GLPI_URL, FLEET_SMTP_HOST)"]


def read_vault(inventory_root: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The vault's variables (``vault_*``), or nothing when there is no vault file.  The
    password is found as :func:`fleet.inventory.load_inventory` finds it."""
    path = inventory_root / VAULT_RELPATH
    if not path.is_file():
        return {}
    pw_file = settings.get("vault_password_file", environ=environ)
    password = password_from(Path(pw_file) if pw_file else default_password_file(inventory_root))
    try:
        data = yaml.safe_load(decrypt_vault(path, password))
    except yaml.YAMLError as exc:
        raise SecretError(f"{path}: the decrypted vault is not YAML: {exc.__class__.__name__}") from None
    if not isinstance(data, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


class _Resolver:
    def __init__(
        self, environ: Mapping[str, str], vault: Mapping[str, str] | Callable[[], Mapping[str, str]]
    ) -> None:
        self._env = environ
        self._vault = vault
        self._vault_cache: Mapping[str, str] | None = None
        self.sources: dict[str, str] = {}

    def vault(self) -> Mapping[str, str]:
        if self._vault_cache is None:
            self._vault_cache = self._vault() if callable(self._vault) else self._vault
        return self._vault_cache

    def get(self, name: str) -> Any:
        setting = next(s for s in settings.SETTINGS if s.name == name)
        value = settings.get(name, environ=self._env)
        found = settings.source(name, self._env)
        if found is not None:
            self.sources[name] = found
            return value
        raw = self.vault().get(f"vault_{name}")
        if raw not in (None, ""):
            self.sources[name] = "vault"
            try:
                return setting.type(str(raw))
            except (TypeError, ValueError) as exc:
                shown = "***" if setting.secret else repr(raw)
                raise ConfigError(f"vault_{name} (vault): invalid value {shown}: {exc}") from exc
        return value

    def where(self, name: str) -> str:
        env = "FLEET_" + name.upper()
        return f"{env} (or {name} in fleet.toml, or vault_{name} in the vault)"


def _secret(value: Any) -> SecretStr | None:
    return None if value in (None, "") else SecretStr(str(value))


def load_config(
    environ: Mapping[str, str] | None = None,
    vault: Mapping[str, str] | Callable[[], Mapping[str, str]] | None = None,
    inventory_root: Path | None = None,
) -> HandoffConfig:
    """Resolve the hand-off settings.  ``vault`` defaults to the inventory's vault, opened only
    if a value is missing from the environment and ``fleet.toml``."""
    env = os.environ if environ is None else environ
    if vault is None:
        root = Path(settings.get("inventory", inventory_root, environ=env))

        def vault_loader() -> Mapping[str, str]:
            return read_vault(root, env)

        vault = vault_loader
    r = _Resolver(env, vault)
    instance = str(r.get("handoff_instance"))

    glpi: GlpiConfig | None = None
    url = r.get("glpi_url")
    if url:
        url = str(url).strip().rstrip("/")
        for suffix in ("/apirest.php", "/api.php"):
            url = url.removesuffix(suffix)
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"{r.where('glpi_url')}: {url!r} is not an http(s) URL")
        api = str(r.get("glpi_api"))
        glpi = GlpiConfig(
            url=url,
            api=api,
            app_token=_secret(r.get("glpi_app_token")),
            user_token=_secret(r.get("glpi_user_token")),
            client_id=r.get("glpi_client_id") or None,
            client_secret=_secret(r.get("glpi_client_secret")),
            username=r.get("glpi_username") or None,
            password=_secret(r.get("glpi_password")),
            ca_file=r.get("glpi_ca_file"),
        )
        needed = (
            ("glpi_user_token",) if api == "v1"
            else ("glpi_client_id", "glpi_client_secret", "glpi_username", "glpi_password")
        )  # fmt: skip
        for name in needed:
            if getattr(glpi, name.removeprefix("glpi_")) is None:
                raise ConfigError(f"{r.where(name)} is required with GLPI API {api}")

    smtp: SmtpConfig | None = None
    host = r.get("smtp_host")
    if host:
        sender = r.get("smtp_from")
        if not sender or "@" not in str(sender):
            raise ConfigError(f"{r.where('smtp_from')}: a sender address is required with smtp_host")
        user = r.get("smtp_user") or None
        password = _secret(r.get("smtp_password"))
        if user and password is None:
            raise ConfigError(f"{r.where('smtp_password')} is required with smtp_user")
        smtp = SmtpConfig(
            host=str(host).strip(),
            port=int(r.get("smtp_port")),
            sender=str(sender).strip(),
            user=user,
            password=password,
            ca_file=r.get("smtp_ca_file"),
        )
    return HandoffConfig(glpi=glpi, smtp=smtp, instance=instance, sources=dict(r.sources))
