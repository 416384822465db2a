"""Secrets the lab needs beyond ``Device.snmp``: the switch CLI credentials (``netdev_*`` vars
refer to vault variables), read from the inventory's vault like the loader does."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from fleet import settings
from fleet.inventory.models import Device
from fleet.inventory.secrets import (
    VAULT_RELPATH,
    decrypt_vault,
    default_password_file,
    password_from,
)


def load_vault(inventory_root: Path) -> dict[str, str]:
    """The vault's variables (empty when there is no vault)."""
    path = inventory_root / VAULT_RELPATH
    if not path.is_file():
        return {}
    pw_file = settings.get("vault_password_file")
    password = password_from(Path(pw_file) if pw_file else default_password_file(inventory_root))
    data = yaml.safe_load(decrypt_vault(path, password))
    if not isinstance(data, dict):
        return {}
    return {str(k): "" if v is None else str(v) for k, v in data.items()}


def device_var(device: Device, name: str, secrets: Mapping[str, str], default: str) -> str:
    """A switch's CLI credential, ``netdev_username`` or ``netdev_password``, as the inventory
    resolved it from the vault (``Device.netdev``); ``secrets`` is no longer read."""
    fields = {"netdev_username": "username", "netdev_password": "password"}
    if name not in fields:
        raise ValueError(f"device_var: {name!r} is not a netdev credential")
    value = getattr(device.netdev, fields[name]) if device.netdev is not None else None
    return value.get_secret_value() if value is not None else default
