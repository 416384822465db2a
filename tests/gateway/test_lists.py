"""The controller's one source of lists, which lists a gateway gets, and the refusal of the
strict profile from sample lists outside the lab (issue 9.7)."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from fleet.errors import ConfigError
from fleet.gateway import lists
from fleet.inventory import load_inventory
from fleet.inventory.models import Inventory
from tests.gateway.conftest import REPO, make_ut1_archive
from tests.roles.conftest import ansible_env, tool

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
ARCHIVE_DATE = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(REPO / "inventory")


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return make_ut1_archive(tmp_path / "blacklists.tar.gz", {
        "malware": [f"malware-{i}.synthetique.example" for i in range(50)],
        "adult": [f"adulte-{i}.synthetique.example" for i in range(80)],
        "liste_blanche": ["ok.adulte-1.synthetique.example"],
    }, ARCHIVE_DATE.timestamp(), white=("liste_blanche",))


def test_filter_settings_follow_the_site_and_an_override(inv: Inventory) -> None:
    pmi, std = inv.site("rennes-maurepas"), inv.site("florac-fs")
    assert pmi.gateway is not None and std.gateway is not None
    assert lists.filter_settings(pmi, pmi.gateway) == lists.FilterSettings("pmi")
    assert lists.filter_settings(std, std.gateway).profile == "standard"
    gw = pmi.gateway.model_copy(update={
        "content_filter_profile": "standard", "content_filter_extra_categories": ("gambling",),
        "content_filter_allow": ("a.example",)})
    assert lists.filter_settings(pmi, gw) == lists.FilterSettings("standard", ("gambling",),
                                                                  ("a.example",))
    # the override is read from the typed field, never from the resolved variables
    stale = pmi.gateway.model_copy(update={"vars": {"content_filter_profile": "standard"}})
    assert lists.filter_settings(pmi, stale).profile == "pmi"
    bad = pmi.gateway.model_copy(update={"content_filter_profile": "strict"})
    with pytest.raises(ConfigError, match=r"content_filter_profile 'strict': not a profile"):
        lists.filter_settings(pmi, bad)


def test_update_store_records_origin_and_age(tmp_path: Path, archive: Path) -> None:
    store = tmp_path / "state" / "blocklists"
    loaded, meta = lists.update_store(archive, store, NOW)
    assert set(loaded.categories) == {"malware", "adult", "liste_blanche"}
    assert (store / "lists" / "adult" / "domains").is_file()
    again = lists.read_meta(store)
    assert again == meta
    assert (meta.sample, meta.loaded_at, meta.lists_date) == (False, NOW, ARCHIVE_DATE)
    assert meta.dated == ARCHIVE_DATE and meta.counts["adult"] == 80
    assert meta.sha256 is not None and len(meta.sha256) == 64
    # the repository's sample set is recognised as such
    _, sample = lists.update_store(lists.REPO_SAMPLE, tmp_path / "other" / "blocklists", NOW)
    assert sample.sample and (tmp_path / "other/blocklists/lists/SAMPLE").is_file()


def test_a_bad_archive_never_replaces_the_store(tmp_path: Path, archive: Path) -> None:
    store = tmp_path / "blocklists"
    lists.update_store(archive, store, NOW)
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="not a readable tar archive"):
        lists.update_store(bad, store, NOW + timedelta(days=1))
    meta = lists.read_meta(store)
    assert meta is not None and meta.loaded_at == NOW


def test_what_a_deploy_pushes(tmp_path: Path, archive: Path) -> None:
    store = tmp_path / "blocklists"
    # nothing loaded yet: the sample lists, fine in the lab and for the standard profile...
    src = lists.deploy_source("pmi", True, store=store)
    assert src.path == lists.REPO_SAMPLE and src.meta.sample and src.problem == ""
    assert lists.deploy_source("standard", False, store=store).problem == ""
    # ...refused for pmi outside the lab, in one line naming the way out
    problem = lists.deploy_source("pmi", False, store=store).problem
    assert "sample lists" in problem and "fleet blocklists update" in problem
    assert "\n" not in problem
    # once lists are loaded, every push reads them, never the sample set
    lists.update_store(archive, store, NOW)
    src = lists.deploy_source("pmi", False, store=store)
    assert (src.path, src.problem) == (store / "lists", "")
    meta = json.loads(src.gateway_meta())
    assert meta["lists_date"] == "2026-11-28T03:00:00Z" and meta["profile"] == "pmi"
    assert meta["sample"] is False and meta["lab"] is False
    # an explicit directory overrides, and keeps its sample marker
    assert lists.deploy_source("pmi", False, store=store,
                               lists_dir=lists.REPO_SAMPLE).problem != ""


def test_the_role_refuses_pmi_from_sample_lists_outside_the_lab(tmp_path: Path) -> None:
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(yaml.safe_dump({"all": {"children": {"gateway": {"hosts": {
        "gwtest": {"ansible_connection": "local", "site_pmi": True}}}}}}))
    env = {**ansible_env(), "FLEET_STATE_DIR": str(tmp_path / "state")}
    proc = subprocess.run(
        [tool("ansible-playbook"), "-i", str(inventory), "playbooks/blocklists.yml", "--check"],
        cwd=REPO, capture_output=True, text=True, env=env, timeout=300, check=False)
    assert proc.returncode != 0
    failed = [ln for ln in proc.stdout.splitlines() if ln.startswith("fatal:")]
    assert len(failed) == 1 and "profile 'pmi' from sample lists" in failed[0], proc.stdout[-3000:]
    assert "outside the lab" in failed[0]
    assert "fleet blocklists update --from blacklists.tar.gz" in failed[0]
