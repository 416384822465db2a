"""Signing audit reports (SHA-256 + Ed25519) and verifying an archived one.

The network's signing key is an Ed25519 private key (PEM, PKCS#8) kept in the vault as
``vault_audit_signing_key`` (:mod:`fleet.inventory.secrets` opens the vault); the demo vault
holds a throwaway one.  For each file of a report the signer signs a short statement binding
the file's SHA-256 to what it is::

    relais-audit-report v1
    kind: pdf
    site: florac-fs
    month: 2026-11
    sha256: 9f86d0...

The SHA-256, the signature, the key's public half and id, who ran the audit and when are
recorded in the store (``audit_files``) and in a ``<file>.sig.json`` beside the file, so a
report can be checked with the store or, moved elsewhere, with its sidecar.  The file name is
not signed: renaming an archived report does not break it.  :func:`verify` says whether a
file is intact and who signed it.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from fleet import settings
from fleet.errors import ConfigError, SecretError
from fleet.inventory.secrets import VAULT_RELPATH, decrypt_vault, default_password_file, password_from
from fleet.store.audit import AuditFile
from fleet.store.db import Store

KEY_NAME = "vault_audit_signing_key"
SIDECAR = ".sig.json"


@dataclass(frozen=True, slots=True)
class Signer:
    """A loaded signing key and the name of whoever runs the audit."""

    key: Ed25519PrivateKey
    who: str

    @property
    def public(self) -> Ed25519PublicKey:
        return self.key.public_key()

    @property
    def public_b64(self) -> str:
        return public_b64(self.public)

    @property
    def key_id(self) -> str:
        return key_id(self.public)


def public_b64(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def key_id(key: Ed25519PublicKey) -> str:
    """The key's short id: the first 16 hex digits of the SHA-256 of its raw public bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def generate_pem() -> str:
    """A new private key, PEM (``fleet audit keygen`` prints it for the vault)."""
    return (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode("ascii")
    )


def load_pem(pem: str, where: str) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    except (ValueError, TypeError, UnicodeEncodeError) as exc:
        raise SecretError(f"{where}: {KEY_NAME} is not a PEM private key") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SecretError(f"{where}: {KEY_NAME} is not an Ed25519 key (generate one: fleet audit keygen)")
    return key


def vault_key(inventory_root: Path) -> Ed25519PrivateKey:
    """The signing key from the inventory's vault (password as for every vault use)."""
    vault = inventory_root / VAULT_RELPATH
    configured = settings.get("vault_password_file")
    password = password_from(Path(configured) if configured else default_password_file(inventory_root))
    data = yaml.safe_load(decrypt_vault(vault, password)) or {}
    pem = data.get(KEY_NAME) if isinstance(data, dict) else None
    if not isinstance(pem, str) or "PRIVATE KEY" not in pem:
        raise SecretError(
            f"{vault}: no {KEY_NAME} in the vault: generate one with 'fleet audit keygen' "
            "and add it with 'ansible-vault edit'"
        )
    return load_pem(pem, str(vault))


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def statement(kind: str, site: str | None, month: str, digest: str) -> bytes:
    return (
        f"relais-audit-report v1\nkind: {kind}\nsite: {site or 'network'}\nmonth: {month}\nsha256: {digest}\n"
    ).encode()


@dataclass(frozen=True, slots=True)
class Signature:
    kind: str
    site: str | None
    month: str
    sha256: str
    size: int
    signature: str
    key_id: str
    public_key: str
    signed_by: str
    signed_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "format": "relais-audit-report v1", "kind": self.kind, "site": self.site,
            "month": self.month, "sha256": self.sha256, "size": self.size,
            "signature": self.signature, "key_id": self.key_id, "public_key": self.public_key,
            "signed_by": self.signed_by, "signed_at": self.signed_at.isoformat(),
        }  # fmt: skip


def sign_file(
    signer: Signer, path: Path, *, kind: str, site: str | None, month: str, now: datetime
) -> Signature:
    """Sign ``path`` and write its ``.sig.json`` sidecar."""
    digest = sha256_of(path)
    sig = signer.key.sign(statement(kind, site, month, digest))
    out = Signature(
        kind,
        site,
        month,
        digest,
        path.stat().st_size,
        base64.b64encode(sig).decode("ascii"),
        signer.key_id,
        signer.public_b64,
        signer.who,
        now,
    )
    path.with_name(path.name + SIDECAR).write_text(json.dumps(out.to_json(), indent=2) + "\n", "utf-8")
    return out


# ---------------------------------------------------------------------------- verify ----


@dataclass(frozen=True, slots=True)
class Verdict:
    intact: bool
    message: str
    """One line for the auditor, in French."""
    signed_by: str | None = None
    key_id: str | None = None
    trusted_key: bool | None = None
    """Whether the signing key is the vault's current key (None: the vault was not read)."""
    site: str | None = None
    month: str | None = None
    signed_at: str | None = None
    sha256: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "message": self.message,
            "signed_by": self.signed_by,
            "key_id": self.key_id,
            "trusted_key": self.trusted_key,
            "site": self.site,
            "month": self.month,
            "signed_at": self.signed_at,
            "sha256": self.sha256,
        }


def _check(record: Mapping[str, Any], digest: str) -> bool:
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(record["public_key"]))
        key.verify(
            base64.b64decode(record["signature"]),
            statement(record["kind"], record["site"], record["month"], digest),
        )
    except (InvalidSignature, ValueError, KeyError, TypeError):
        return False
    return True


def _stored(store: Store, digest: str) -> dict[str, Any] | None:
    with store.read() as s:
        row = s.scalars(
            select(AuditFile)
            .options(selectinload(AuditFile.audit))
            .where(AuditFile.sha256 == digest)
            .order_by(AuditFile.id.desc())
        ).first()
        if row is None:
            return None
        return {
            "kind": row.kind,
            "site": row.audit.site_id,
            "month": row.audit.month,
            "sha256": row.sha256,
            "signature": row.signature,
            "public_key": row.public_key,
            "key_id": row.key_id,
            "signed_by": row.signed_by,
            "signed_at": row.signed_at.isoformat(),
        }


def verify(path: Path, *, store: Store | None, trusted: Ed25519PublicKey | None) -> Verdict:
    """Is ``path`` a report signed by us, unchanged?  Looks the file's SHA-256 up in the store,
    else reads its sidecar; checks the Ed25519 signature; says whether the key is the vault's."""
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    digest = sha256_of(path)
    record = _stored(store, digest) if store is not None else None
    from_store = record is not None
    sidecar = path.with_name(path.name + SIDECAR)
    if record is None and sidecar.is_file():
        try:
            record = json.loads(sidecar.read_text("utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{sidecar}: not a signature file") from exc
    if not isinstance(record, dict):
        return Verdict(
            False,
            f"{path.name} : aucun rapport signé n'a cette empreinte SHA-256 "
            "(fichier modifié, ou rapport inconnu de cette base)",
            sha256=digest,
        )
    who = {
        "signed_by": record.get("signed_by"),
        "key_id": record.get("key_id"),
        "site": record.get("site"),
        "month": record.get("month"),
        "signed_at": record.get("signed_at"),
    }
    place = f"{record.get('site') or 'réseau'} {record.get('month')}"
    if record.get("sha256") != digest:
        return Verdict(
            False,
            f"{path.name} : MODIFIÉ — son empreinte SHA-256 n'est plus celle du rapport signé ({place})",
            sha256=digest,
            **who,
        )
    if not _check(record, digest):
        return Verdict(False, f"{path.name} : signature invalide ({place})", sha256=digest, **who)
    trusted_key = None if trusted is None else key_id(trusted) == record.get("key_id")
    signed = f"signé par {record.get('signed_by')} le {str(record.get('signed_at'))[:10]}"
    if not from_store and trusted_key is not True:
        # A sidecar alone proves nothing unless its key is ours: anyone can sign with a key.
        why = "la clé n'est pas celle du coffre" if trusted_key is False else "le coffre n'a pas pu être lu"
        return Verdict(
            False,
            f"{path.name} : signature non reconnue ({why}, clé {record.get('key_id')})",
            trusted_key=trusted_key,
            sha256=digest,
            **who,
        )
    note = {True: "clé du coffre actuel", False: "clé ancienne, plus celle du coffre", None: "clé"}
    message = f"{path.name} : intact — rapport {place}, {signed} ({note[trusted_key]} {record.get('key_id')})"
    return Verdict(True, message, trusted_key=trusted_key, sha256=digest, **who)
