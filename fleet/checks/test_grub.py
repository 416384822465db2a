"""GRUB superuser password.  Read-only."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.kinds("public_pc", "borne")


@pytest.mark.ref("ANSSI-BP-028 R5", "CIS 1.4.1")
def test_grub_password(host: Any) -> None:
    f = host.file("/etc/grub.d/01_relais_password")
    assert f.exists, "no GRUB password generator"
    assert f.user == "root" and f.mode == 0o700, f"mode {oct(f.mode)}: the hash must stay private"
    text = f.content_string
    assert "set superusers=" in text
    assert "password_pbkdf2 " in text and "grub.pbkdf2.sha512." in text
