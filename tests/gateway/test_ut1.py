"""UT1 list parsing, profile composition and the generated dnsmasq/nft files."""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import yaml

from fleet.errors import ConfigError
from fleet.gateway import ut1
from tests.gateway.conftest import REPO


def _write(root: Path, cat: str, lines: list[str], usage: str | None = None) -> None:
    (root / cat).mkdir(parents=True, exist_ok=True)
    (root / cat / "domains").write_text("\n".join(lines) + "\n")
    if usage is not None:
        (root / cat / "usage").write_text(usage + "\n")


def test_parse_domains_separates_names_addresses_and_junk() -> None:
    names, addrs, skipped = ut1.parse_domains(
        ["# comment", "", "Example.COM.", "*.wild.example", "1.1.1.1", "2001:DB8::1",
         "not a name", "sub.example.com # trailing comment", "256.1.1.1", "-bad.example"],
        "x")
    assert names == {"example.com", "wild.example", "sub.example.com"}
    assert addrs == {"1.1.1.1", "2001:db8::1"}
    assert skipped == 3


def test_sample_set_counts_and_usage(sample_lists: Path) -> None:
    lists = ut1.load(sample_lists)
    counts = lists.counts()
    assert counts["malware"] == 3
    assert counts["doh"] == 12  # 6 names + 6 addresses
    assert lists.categories["liste_blanche"].usage == "white"
    assert lists.categories["adult"].usage == "black"
    assert "192.0.2.53" in lists.categories["doh"].addresses


def test_profiles_standard_and_pmi(sample_lists: Path) -> None:
    lists = ut1.load(sample_lists)
    std = ut1.compose(lists, "standard")
    pmi = ut1.compose(lists, "pmi")
    assert "malware-sample.example" in std.block and "malware-sample.example" in pmi.block
    assert "dns.google" in std.block  # doh category, every site
    for name in ("adult-sample.example", "casino-demo.example", "rencontres-demo.example",
                 "haine-demo.example", "explosifs-demo.example", "vpn-demo.example",
                 "proxy-anonyme.example"):
        assert name in pmi.block, name
        assert name not in std.block, name
    assert "banque-demo.example" not in pmi.block  # a category no profile names
    assert std.block < pmi.block
    assert not std.safesearch and pmi.safesearch
    assert std.missing == () and pmi.missing == ()


def test_subdomains_minimised_and_whitelist_wins(sample_lists: Path) -> None:
    pmi = ut1.compose(ut1.load(sample_lists), "pmi")
    assert "www.adult-sample.example" not in pmi.block  # covered by adult-sample.example
    assert "dl.malware-sample.example" not in pmi.block
    assert pmi.allow == {"ok.adult-sample.example"}  # usage=white, under a blocked name
    text = ut1.render_dnsmasq(pmi)
    assert "server=/ok.adult-sample.example/#" in text


def test_missing_categories_reported(tmp_path: Path) -> None:
    _write(tmp_path, "malware", ["bad.example"])
    p = ut1.compose(ut1.load(tmp_path), "pmi", extra=["custom"])
    assert p.categories == ("malware",)
    assert "adult" in p.missing and "custom" in p.missing


def test_dnsmasq_file_is_accepted_by_dnsmasq(tmp_path: Path, sample_lists: Path) -> None:
    if shutil.which("dnsmasq") is None:
        pytest.skip("dnsmasq not installed (ci/apt-packages.txt: dnsmasq-base)")
    for profile in ut1.PROFILES:
        conf = tmp_path / f"{profile}.conf"
        conf.write_text(ut1.render_dnsmasq(ut1.compose(ut1.load(sample_lists), profile)))
        proc = subprocess.run(["dnsmasq", "--test", "-C", str(conf)], capture_output=True,
                              text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text("adress=/x.example/\n")
    assert subprocess.run(["dnsmasq", "--test", "-C", str(bad)], capture_output=True,
                          timeout=30).returncode != 0


def test_pmi_forces_safesearch(sample_lists: Path) -> None:
    lists = ut1.load(sample_lists)
    pmi = ut1.render_dnsmasq(ut1.compose(lists, "pmi"))
    std = ut1.render_dnsmasq(ut1.compose(lists, "standard"))
    assert "address=/www.google.com/216.239.38.120" in pmi
    assert "address=/www.bing.com/204.79.197.220" in pmi
    assert "address=/www.youtube.com/216.239.38.119" in pmi
    assert "google.com" not in std


def test_nft_addresses(sample_lists: Path) -> None:
    text = ut1.render_nft_addresses(ut1.compose(ut1.load(sample_lists), "standard"))
    assert "flush set inet relais_dnsfilter doh_v4" in text
    assert "add element inet relais_dnsfilter doh_v4 { 1.1.1.1, 192.0.2.53, 198.51.100.53," in text
    assert "add element inet relais_dnsfilter doh_v6 { 2001:db8::53 }" in text


def test_build_is_idempotent(tmp_path: Path, sample_lists: Path) -> None:
    d, n = tmp_path / "dnsmasq.conf", tmp_path / "doh.nft"
    first = ut1.build(sample_lists, "pmi", d, n)
    again = ut1.build(sample_lists, "pmi", d, n)
    assert first["changed"] is True and again["changed"] is False
    assert ut1.build(sample_lists, "standard", d, n)["changed"] is True


def _tar(path: Path, members: dict[str, str]) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def test_archive_like_ut1(tmp_path: Path) -> None:
    archive = tmp_path / "blacklists.tar.gz"
    _tar(archive, {"blacklists/adult/domains": "a.example\nb.example\n",
                   "blacklists/adult/usage": "black\n",
                   "blacklists/adult/urls": "a.example/x\n",
                   "blacklists/liste_bu/domains": "univ.example\n",
                   "blacklists/liste_bu/usage": "white\n"})
    lists = ut1.load(archive)
    assert lists.counts() == {"adult": 2, "liste_bu": 1}
    assert lists.categories["liste_bu"].usage == "white"


def test_archive_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ut1.ListError, match="no such file"):
        ut1.load(tmp_path / "nope.tar.gz")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar")
    with pytest.raises(ut1.ListError, match=r"junk.tar.gz: not a readable tar archive"):
        ut1.load(junk)
    evil = tmp_path / "evil.tar.gz"
    _tar(evil, {"../escape/domains": "x.example\n"})
    with pytest.raises(ut1.ListError, match="unsafe path"):
        ut1.load(evil)
    assert not (tmp_path.parent / "escape").exists()


def test_bad_usage_and_empty_category(tmp_path: Path) -> None:
    _write(tmp_path, "odd", ["x.example"], usage="grey")
    with pytest.raises(ut1.ListError, match=r"odd/usage: usage must say"):
        ut1.load(tmp_path)
    shutil.rmtree(tmp_path / "odd")
    _write(tmp_path, "junk", ["not a domain", "neither"])
    with pytest.raises(ut1.ListError, match=r"junk/domains: no valid domain name"):
        ut1.load(tmp_path)


def test_list_error_is_a_fleet_config_error() -> None:
    assert issubclass(ut1.ListError, ConfigError)
    with pytest.raises(ConfigError, match="profile 'kids': unknown"):
        ut1.compose(ut1.ListSet({}), "kids")


def test_role_profiles_match_the_python_table() -> None:
    defaults = yaml.safe_load((REPO / "roles/content_filter/defaults/main.yml").read_text())
    assert {k: tuple(v) for k, v in defaults["content_filter_profiles"].items()} == dict(
        ut1.PROFILES)
    assert sorted(defaults["content_filter_safesearch_addresses"]) == sorted(ut1.SAFESEARCH)


def test_gateway_cli_build_and_error(tmp_path: Path, sample_lists: Path) -> None:
    out = tmp_path / "d.conf"
    assert ut1.main(["build", "--lists", str(sample_lists), "--profile", "standard",
                     "--dnsmasq", str(out), "--nft", str(tmp_path / "n.nft")]) == 0
    assert "address=/malware-sample.example/" in out.read_text()
    assert ut1.main(["counts", str(tmp_path / "missing")]) == 2
