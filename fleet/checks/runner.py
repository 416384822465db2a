"""Run the checks of this package against hosts, one pytest process per host in parallel.

Each host gets its own ``pytest`` subprocess (testinfra's ssh backend, so the SSH config and
its ControlMaster are reused): one unreachable or broken host never stops the others, and is
reported with the reason."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fleet.checks.model import CheckReport, CheckResult, HostExpect, merge
from fleet.inventory.models import Device, DeviceKind, Inventory, Site
from fleet.inventory.roles import load_role_specs

CHECKS_DIR = Path(__file__).resolve().parent
DEFAULT_HOMEPAGE = "https://www.service-public.fr/"


def expectations_for(
    inventory: Inventory, site: Site, devices: Sequence[Device], roles_dir: Path
) -> list[HostExpect]:
    """What each managed host of ``site`` should look like, from the resolved inventory (the
    guest account is the device's own, ``Device.guest_user``; ``roles_dir`` only supplies the
    kiosk's default allowlist when the site names none)."""
    allow_default = load_role_specs(roles_dir).default("kiosk_default_allowlist")
    if not isinstance(allow_default, list):  # no roles/, or a Jinja expression
        allow_default = []
    printers = site.devices_of(DeviceKind.PRINTER)
    out = []
    for d in devices:
        out.append(
            HostExpect(
                hostname=d.hostname,
                address=str(d.ip),
                kind=d.kind.value,
                site_id=site.id,
                management=str(site.management),
                controller_networks=tuple(str(n) for n in d.controller_networks),
                pmr=d.pmr,
                admin_user=d.admin_user,
                guest_user=d.guest_user,
                homepage=site.portal_url or DEFAULT_HOMEPAGE,
                allowlist=tuple(str(a) for a in (site.kiosk_allowlist or allow_default)),
                printer_queue=printers[0].hostname if printers else "",
                child_area=site.pmi,
            )
        )
    return out


def _read_results(path: Path) -> list[CheckResult]:
    results: list[CheckResult] = []
    if not path.exists():
        return results
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        results.append(
            CheckResult(
                host=data["host"],
                module=data["module"],
                check=data["check"],
                outcome=data["outcome"],
                refs=tuple(data["refs"]),
                message=data["message"],
            )
        )
    return results


def _check_one(
    expect: HostExpect,
    alias: str,
    *,
    ssh_config: Path | None,
    modules: Sequence[str],
    workdir: Path,
    timeout: float,
) -> CheckReport:
    expect_file = workdir / f"{expect.hostname}.expect.json"
    results_file = workdir / f"{expect.hostname}.results.jsonl"
    expect_file.write_text(json.dumps({alias: expect.to_json()}), encoding="utf-8")
    argv = [
        sys.executable, "-m", "pytest", "-q", "-p", "fleet.checks.plugin",
        "-p", "no:cacheprovider", "-c", str(CHECKS_DIR / "pytest.ini"),
        "--rootdir", str(CHECKS_DIR), f"--hosts=ssh://{alias}", "--sudo",
        f"--relais-expect={expect_file}", f"--relais-results={results_file}",
    ]
    if ssh_config is not None:
        argv.append(f"--ssh-config={ssh_config}")
    argv += [str(CHECKS_DIR / f"test_{m}.py") for m in modules]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return CheckReport((), {expect.hostname: f"checks timed out after {timeout:.0f} s"})
    # testinfra names hosts by alias; report them by inventory hostname
    results = tuple(
        CheckResult(expect.hostname, r.module, r.check, r.outcome, r.refs, r.message)
        for r in _read_results(results_file)
    )
    if not results:
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or ["no output"]
        return CheckReport((), {expect.hostname: f"checks did not run: {tail[0][:300]}"})
    unreachable = [r for r in results if "exit_status=255" in r.message]
    if unreachable and len(unreachable) == len([r for r in results if r.failed]):
        return CheckReport(results, {expect.hostname: "unreachable over SSH"})
    return CheckReport(results)


def available_modules() -> list[str]:
    return sorted(p.stem.removeprefix("test_") for p in CHECKS_DIR.glob("test_*.py"))


def run_checks(
    targets: Sequence[HostExpect],
    *,
    ssh_config: Path | None = None,
    aliases: Mapping[str, str] | None = None,
    modules: Sequence[str] | None = None,
    timeout: float = 300.0,
    workdir: Path | None = None,
) -> CheckReport:
    """Run ``modules`` (default: all) against every target; returns every result.

    ``aliases`` maps an inventory hostname to what ssh is given (default: the hostname when an
    ``ssh_config`` names the hosts, else ``<admin_user>@<address>``)."""
    chosen = list(modules) if modules else available_modules()
    unknown = sorted(set(chosen) - set(available_modules()))
    if unknown:
        raise ValueError(f"unknown check module(s): {', '.join(unknown)}")
    if not targets:
        return CheckReport(())

    def alias_of(t: HostExpect) -> str:
        if aliases and t.hostname in aliases:
            return aliases[t.hostname]
        return t.hostname if ssh_config is not None else f"{t.admin_user}@{t.address}"

    with (
        tempfile.TemporaryDirectory(prefix="relais-checks-", dir=workdir) as tmp,
        ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool,
    ):
        reports = list(
            pool.map(
                lambda t: _check_one(
                    t, alias_of(t), ssh_config=ssh_config, modules=chosen,
                    workdir=Path(tmp), timeout=timeout,
                ),
                targets,
            )
        )
    return merge(reports)
