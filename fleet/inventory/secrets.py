"""The vault: which secrets the engine needs, and how they are opened.

Secrets live in one ansible-vault file, ``inventory/group_vars/all/vault.yml``; other files
refer to them as ``"{{ vault_name }}"``.  The password comes from (first wins) the setting
``vault_password_file`` / ``FLEET_VAULT_PASSWORD_FILE``, else the executable ``vault-password``
script beside the inventory directory (not inside it: Ansible would run an executable file in an
inventory directory as a dynamic inventory script).  That script prints ``$FLEET_VAULT_PASSWORD`` when set and otherwise
the *public demo password*: the demo vault only holds throwaway lab values, and a production
network replaces the vault and sets its own password.  ``fleet inventory check`` says when the
demo password is in use.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from fleet.errors import SecretError

DEMO_VAULT_PASSWORD = "relais-demo-not-a-secret"  # noqa: S105 - public by design, see docstring
VAULT_RELPATH = Path("group_vars/all/vault.yml")


@dataclass(frozen=True, slots=True)
class SecretSpec:
    name: str
    description: str


REQUIRED_SECRETS: tuple[SecretSpec, ...] = (
    SecretSpec("vault_snmp_v3_user", "SNMPv3 user of the poller on PCs, bornes and gateways"),
    SecretSpec("vault_snmp_v3_auth_pass", "SNMPv3 authentication passphrase (SHA)"),
    SecretSpec("vault_snmp_v3_priv_pass", "SNMPv3 privacy passphrase (AES)"),
    SecretSpec("vault_snmp_community", "SNMPv2c read community of printers, UPSes and APs"),
    SecretSpec("vault_switch_username", "switch CLI user (netmiko)"),
    SecretSpec("vault_switch_password", "switch CLI password (netmiko)"),
    SecretSpec("vault_grub_password_pbkdf2", "GRUB superuser password hash (grub-mkpasswd-pbkdf2)"),
    SecretSpec("vault_portal_secret", "captive portal (openNDS FAS) shared key"),
    SecretSpec("vault_glpi_app_token", "GLPI application token (SAV hand-off)"),
    SecretSpec("vault_glpi_user_token", "GLPI user token (SAV hand-off)"),
)

# Keys that hold secrets: a literal value for one of these outside the vault is an error.
SECRET_KEY = re.compile(r"(^|_)(pass|password|passphrase|secret|token|community|key|pbkdf2)$")
VAULT_REF = re.compile(r"^\s*\{\{\s*(vault_[A-Za-z0-9_]+)\s*\}\}\s*$")


def default_password_file(inventory_root: Path) -> Path:
    """The ``vault-password`` script beside the inventory directory."""
    return inventory_root.resolve().parent / "vault-password"


def password_from(path: Path) -> str:
    """Read the vault password from a file, or run it when it is executable (like Ansible)."""
    try:
        if os.access(path, os.X_OK):
            out = subprocess.run(
                [str(path)], capture_output=True, text=True, check=True, timeout=30
            )
            return out.stdout.strip()
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError as exc:
        raise SecretError(f"{path}: vault password file not found") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise SecretError(f"{path}: cannot get the vault password: {exc}") from exc


def decrypt_vault(path: Path, password: str) -> str:
    """Decrypt an ansible-vault file (ansible-core's own implementation)."""
    from ansible.parsing.vault import AnsibleVaultError, VaultLib, VaultSecret

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SecretError(f"{path}: cannot read vault: {exc}") from exc
    if not data.startswith(b"$ANSIBLE_VAULT"):
        raise SecretError(
            f"{path}: not encrypted — secrets must not sit in clear in git "
            f"(encrypt it: ansible-vault encrypt {path})"
        )
    vault = VaultLib([("default", VaultSecret(password.encode()))])
    try:
        plain: bytes = vault.decrypt(data)
    except AnsibleVaultError as exc:
        raise SecretError(f"{path}: cannot decrypt the vault (wrong vault password?)") from exc
    return plain.decode("utf-8")


def encrypt_vault(plaintext: str, password: str) -> str:
    from ansible.parsing.vault import VaultLib, VaultSecret

    vault = VaultLib([("default", VaultSecret(password.encode()))])
    out: bytes = vault.encrypt(plaintext.encode("utf-8"))
    return out.decode("ascii")
