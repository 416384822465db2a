"""What the lab writes into a guest client's root before it boots (no host needed)."""

from __future__ import annotations

from pathlib import Path

from fleet.lab import hostconf


def test_the_guest_client_asks_dhcp_again_within_seconds(tmp_path: Path) -> None:
    """Debian's dhclient sleeps 5 minutes after 60 s without an answer: the lab's client asks
    again every 5 s, keeping the image's own settings, however often the host is prepared."""
    conf = tmp_path / "etc/dhcp/dhclient.conf"
    conf.parent.mkdir(parents=True)
    conf.write_text("request subnet-mask, routers;\n#retry 60;\n")
    for _ in range(2):
        hostconf._prepare_client(tmp_path)
    text = conf.read_text()
    assert text.startswith("request subnet-mask, routers;\n")
    assert [ln for ln in text.splitlines() if ln.startswith("retry ")] == ["retry 5;"]
    assert (tmp_path / "etc/systemd/system/relais-dhcp.service").is_file()
