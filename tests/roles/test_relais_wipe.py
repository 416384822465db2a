"""relais-wipe run as a real process against a fake system tree (--root) with canaries.

Runs as root (as on a PC) so it can own files as a fake guest uid, mount a fake USB stick and
kill a real process of the guest living in the tree (its root directory is the tree, as a
process of the machine is in /); the tests that need none of that also run without root."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.roles.conftest import REPO

WIPE = REPO / "roles/session_wipe/files/usr/local/sbin/relais-wipe"
GUEST_UID = 54321
OTHER_UID = 54322
MACHINE = "0123456789abcdef0123456789abcdef"
IS_ROOT = os.geteuid() == 0


def _owned(path: Path, uid: int, content: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    if IS_ROOT:
        os.chown(path, uid, uid)
    return path


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    cfg = {
        "user": "guest", "uid": GUEST_UID, "gid": GUEST_UID, "home": "/home/guest",
        "skeleton": "/etc/relais/guest-skel", "record": "/var/log/relais/wipe.jsonl",
        "state_dir": "/run/relais-wipe", "keep_wifi": ["site-staff"],
        "idle_timeout": 900, "idle_warning": 60, "max_session": 7200,
        "max_session_warning": 300, "poll_interval": 1,
    }
    (root / "etc/relais").mkdir(parents=True)
    (root / "etc/relais/session-wipe.json").write_text(json.dumps(cfg))
    skel = root / "etc/relais/guest-skel"
    (skel / ".config/xfce4").mkdir(parents=True)
    (skel / ".bashrc").write_text("# skeleton bashrc\n")
    (skel / ".config/xfce4/settings.xml").write_text("<skel/>\n")
    home = root / "home/guest"
    home.mkdir(parents=True)
    return root


def _canaries(root: Path) -> dict[str, Path]:
    """At least one canary per wipe item (12 kinds), named like personal data would be."""
    home = root / "home/guest"
    uid = GUEST_UID
    return {
        "home": _owned(home / "Documents/CV-Jeanne-Martin.odt", uid),
        "home_dotfile": _owned(home / ".bash_history", uid, "ssh jeanne@example.org\n"),
        "downloads": _owned(home / "Downloads/avis-imposition-2026.pdf", uid),
        "cookie": _owned(home / ".config/chromium/Default/Cookies", uid, "SID=secret"),
        "firefox": _owned(home / ".mozilla/firefox/x.default/cookies.sqlite", uid),
        "recent": _owned(home / ".local/share/recently-used.xbel", uid, "<bookmark href='CV'/>"),
        "thumbnail": _owned(home / ".cache/thumbnails/normal/abc.png", uid),
        "keyring": _owned(home / ".local/share/keyrings/login.keyring", uid),
        "clipboard": _owned(home / ".cache/xfce4/clipman/textsrc", uid, "IBAN FR76..."),
        "tmp": _owned(root / "tmp/guest-upload-jeanne.png", uid),
        "tmp_dir": _owned(root / "tmp/.org.chromium.Chromium.x/data", uid),
        "var_tmp": _owned(root / "var/tmp/scan-jeanne.jpg", uid),
        "dev_shm": _owned(root / "dev/shm/pulse-shm-1", uid),
        "print_job": _owned(root / "var/spool/cups/d00042-001", 0, "%PDF-1.7 jeanne"),
        "print_history": _owned(root / "var/spool/cups/c00042", 0, "job history"),
        "print_in_transit": _owned(root / "var/spool/cups/tmp/0a1b2c3d", 7, "%PDF-1.7 jeanne"),
        "page_log": _owned(root / "var/log/cups/page_log", 0, "prn1 guest 42 CV-Jeanne-Martin"),
        "page_log_old": _owned(root / "var/log/cups/page_log.1", 0, "prn1 guest 41 avis"),
        "user_journal": _owned(root / f"var/log/journal/{MACHINE}/user-{GUEST_UID}@0001-0002.journal",
                               0, "MESSAGE=jeanne"),
        "user_journal_tmp": _owned(root / f"run/log/journal/{MACHINE}/user-{GUEST_UID}@0003.journal~",
                                   0, "MESSAGE=jeanne"),
        "linger": _owned(root / "var/lib/systemd/linger/guest", 0, ""),
        "wifi": _owned(root / "etc/NetworkManager/system-connections/Freebox-Jeanne.nmconnection",
                       0, "[wifi]\nssid=Freebox-Jeanne\n"),
    }


def _survivors(root: Path) -> dict[str, Path]:
    """What a wipe must never touch: system files, other accounts, site-installed wifi."""
    return {
        "other_tmp": _owned(root / "tmp/other-user.txt", OTHER_UID, "keep"),
        "root_tmp": _owned(root / "tmp/systemd-private-x/keep", 0, "keep"),
        "other_home": _owned(root / "home/agent/notes.txt", OTHER_UID, "keep"),
        "site_wifi": _owned(root / "etc/NetworkManager/system-connections/site-staff.nmconnection",
                            0, "[wifi]\nssid=staff\n"),
        "system": _owned(root / "etc/hostname", 0, "florac-fs-pc1\n"),
        "cups_conf": _owned(root / "etc/cups/printers.conf", 0, "<Printer prn1>"),
        "system_journal": _owned(root / f"var/log/journal/{MACHINE}/system.journal", 0, "keep"),
        "active_user_journal": _owned(root / f"var/log/journal/{MACHINE}/user-{GUEST_UID}.journal",
                                      0, "fresh after rotation"),
        "other_user_journal": _owned(
            root / f"var/log/journal/{MACHINE}/user-{OTHER_UID}@0001.journal", 0, "keep"),
    }


def _residue(root: Path) -> dict[str, Path]:
    """Files of the guest's uid where no wipe item looks: the residue rule must catch them
    (planted as root and chowned, so also where the guest could not write itself)."""
    uid = GUEST_UID
    hidden_dir = root / "var/tmp/x"
    planted = {
        "var_tmp_hidden": _owned(hidden_dir / ".hidden", uid),
        "run_lock": _owned(root / "run/lock/jeanne.lock", uid),
        "mail": _owned(root / "var/mail/guest", uid, "From: jeanne"),
        "crontab": _owned(root / "var/spool/cron/crontabs/guest", uid, "* * * * * xwd -root"),
        "opt": _owned(root / "opt/vendor/cache/state.db", uid),
        "deep": _owned(root / "srv/a/b/c/d/e/jeanne.txt", uid),
        "etc": _owned(root / "etc/xdg/autostart/evil.desktop", uid),
        "mqueue": _owned(root / "dev/mqueue/jeanne", uid),
    }
    # a directory of the guest's holding a root file: the whole directory goes
    guest_dir = root / "usr/local/share/guest-dir"
    guest_dir.mkdir(parents=True)
    os.chown(guest_dir, uid, uid)
    planted["guest_dir_root_file"] = _owned(guest_dir / "root-file", 0)
    planted["guest_dir"] = guest_dir
    link = root / "var/tmp/link-to-hostname"
    os.symlink("/etc/hostname", link)
    os.lchown(link, uid, uid)
    planted["symlink"] = link
    fifo = root / "var/tmp/jeanne.fifo"
    os.mkfifo(fifo)
    os.chown(fifo, uid, uid)
    planted["fifo"] = fifo
    return planted


def _tree_process(root: Path, *, uid: int = GUEST_UID) -> subprocess.Popen[bytes]:
    """A real process of ``uid`` living in the tree: its root directory is the tree (chroot;
    the machine's /usr bind-mounted read-only in its own mount namespace only)."""
    (root / "usr").mkdir(exist_ok=True)
    for link, target in (("bin", "usr/bin"), ("lib", "usr/lib"), ("lib64", "usr/lib64")):
        if not os.path.lexists(root / link):
            os.symlink(target, root / link)
    script = (f"mount --bind -o ro /usr {root}/usr && "
              f"exec chroot --userspec={uid}:{uid} {root} /usr/bin/sleep 300")
    proc = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sh", "-c", script])
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            if os.stat(f"/proc/{proc.pid}/root").st_ino == os.stat(root).st_ino and \
                    os.stat(f"/proc/{proc.pid}").st_uid == uid:
                return proc
        except FileNotFoundError:
            break
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the tree process did not start")


def _run(root: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(WIPE), "--root", str(root), *args],
                          capture_output=True, text=True, timeout=timeout)


def _records(root: Path) -> list[dict[str, object]]:
    path = root / "var/log/relais/wipe.jsonl"
    return [json.loads(ln) for ln in path.read_text().splitlines()]


@pytest.mark.skipif(not IS_ROOT, reason="owning files as a fake guest uid needs root")
def test_every_canary_is_wiped_and_nothing_else(tree: Path) -> None:
    canaries = _canaries(tree)
    survivors = _survivors(tree)
    assert len({k.split("_")[0] for k in canaries}) >= 10
    # a real process of the guest, and a mounted "USB stick"
    sleeper = _tree_process(tree)
    stick = tree / "media/guest/CLE-USB"
    stick.mkdir(parents=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "relais-test", str(stick)],
                             capture_output=True, check=False).returncode == 0
    if mounted:
        _owned(stick / "photo-identite.jpg", GUEST_UID)
    try:
        proc = _run(tree, "run", "--trigger", "logout")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert sleeper.wait(timeout=10) is not None, "guest process survived"
        survived = [k for k, p in canaries.items() if os.path.lexists(p)]
        assert not survived, f"canaries survived: {survived}"
        for name, path in survivors.items():
            assert path.exists(), f"{name} was wiped"
        if mounted:
            assert not os.path.ismount(stick), "USB stick still mounted"
        home = tree / "home/guest"
        assert sorted(p.name for p in home.iterdir()) == [".bashrc", ".config"]
        assert (home / ".config/xfce4/settings.xml").read_text() == "<skel/>\n"
        assert home.stat().st_mode & 0o777 == 0o700
        assert all(p.stat().st_uid == GUEST_UID for p in home.rglob("*"))
        (rec,) = _records(tree)
        assert rec["trigger"] == "logout" and rec["outcome"] == "ok"
        assert rec["items"]["session"]["removed"] >= 1  # type: ignore[index]
        assert rec["items"]["print_jobs"]["removed"] == 5  # type: ignore[index]
        assert rec["items"]["journal"]["removed"] == 2  # type: ignore[index]
        assert rec["items"]["wifi"]["removed"] == 1  # type: ignore[index]
        assert set(rec) == {"time", "host", "trigger", "outcome", "items", "residue",
                            "duration_ms"}
        assert rec["residue"] == {"scanned": rec["residue"]["scanned"], "found": 0,  # type: ignore[index]
                                  "removed": 0, "remaining": 0, "processes": 0}
        raw = (tree / "var/log/relais/wipe.jsonl").read_text()
        for word in ("Jeanne", "jeanne", "CV", "imposition", "Freebox", "IBAN", "CLE-USB", "/"):
            assert word not in raw, f"personal data {word!r} in the wipe record"
        assert (tree / "var/log/relais/wipe.jsonl").stat().st_mode & 0o007 == 0
    finally:
        sleeper.kill()
        if mounted and os.path.ismount(stick):
            subprocess.run(["umount", "-l", str(stick)], check=False)


@pytest.mark.skipif(not IS_ROOT, reason="needs root to own files as a fake guest uid")
def test_a_failing_item_does_not_stop_the_others(tree: Path) -> None:
    canaries = _canaries(tree)
    stuck = _owned(tree / "tmp/stuck-jeanne.txt", GUEST_UID)
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable flag")
    try:
        proc = _run(tree, "run", "--trigger", "nightly")
        assert proc.returncode == 1, "a failed item must make the wipe exit non-zero"
        (rec,) = _records(tree)
        assert rec["outcome"] == "failed"
        assert rec["items"]["tmp"] == {"status": "failed", "error": "PermissionError"}  # type: ignore[index]
        assert "stuck" not in json.dumps(rec), "the error must not carry the file name"
        later = ["var_tmp", "dev_shm", "home", "print_jobs"]
        assert all(rec["items"][i]["status"] == "ok" for i in later)  # type: ignore[index]
        assert not canaries["var_tmp"].exists() and not canaries["home"].exists()
        assert rec["residue"]["remaining"] == 1, rec["residue"]  # type: ignore[index]
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=False)


# --- the residue rule: nothing of the guest's uid anywhere, found by uid, not by place ---------
@pytest.mark.skipif(not IS_ROOT, reason="owning files as a fake guest uid needs root")
def test_residue_anywhere_outside_home_is_found_and_removed(tree: Path) -> None:
    """Places no wipe item names (issue 9.1): a crontab, mail, /run/lock, a hidden file in a
    directory of /var/tmp, /opt, /srv, /etc, a message queue, a FIFO, a symbolic link, a
    directory of the guest's holding a root file: all found by uid and removed."""
    survivors = _survivors(tree)
    keep_beside = {
        "root_mail": _owned(tree / "var/mail/relais", 0, "keep"),
        "root_cron": _owned(tree / "var/spool/cron/crontabs/root", 0, "keep"),
        "other_opt": _owned(tree / "opt/vendor/cache/other.db", OTHER_UID, "keep"),
    }
    planted = _residue(tree)
    skeleton_file = tree / "home/guest/.bashrc"
    proc = _run(tree, "run", "--trigger", "logout")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    left = [k for k, p in planted.items() if os.path.lexists(p)]
    assert not left, f"residue survived the wipe: {left}"
    for name, path in {**survivors, **keep_beside}.items():
        assert path.exists(), f"{name} was wiped"
    assert Path("/etc/hostname").exists(), "a link was followed"
    assert skeleton_file.stat().st_uid == GUEST_UID, "the fresh home is not residue"
    (rec,) = _records(tree)
    assert rec["outcome"] == "ok", rec
    # /var/tmp is an item of its own; everything else planted was found by the residue scan
    in_var_tmp = [p for p in planted.values() if p.is_relative_to(tree / "var/tmp")]
    assert rec["items"]["var_tmp"]["removed"] == len(in_var_tmp) == 3, rec  # type: ignore[index]
    expected = len(planted) - len(in_var_tmp)
    assert rec["residue"]["found"] == rec["residue"]["removed"] == expected, rec  # type: ignore[index]
    assert rec["residue"]["remaining"] == 0 and rec["residue"]["processes"] == 0  # type: ignore[index]
    assert "/" not in json.dumps(rec["residue"]) and "jeanne" not in json.dumps(rec)


@pytest.mark.skipif(not IS_ROOT, reason="owning files as a fake guest uid needs root")
def test_residue_that_cannot_be_removed_fails_the_wipe(tree: Path) -> None:
    stuck = _owned(tree / "srv/jeanne/notes.txt", GUEST_UID)
    if subprocess.run(["chattr", "+i", str(stuck)], capture_output=True).returncode != 0:
        pytest.skip("this filesystem has no immutable flag")
    try:
        proc = _run(tree, "run", "--trigger", "nightly")
        assert proc.returncode == 1
        (rec,) = _records(tree)
        assert rec["outcome"] == "failed"
        assert all(v["status"] == "ok" for v in rec["items"].values())  # type: ignore[attr-defined]
        assert rec["residue"]["remaining"] == 1, rec["residue"]  # type: ignore[index]
        assert "jeanne" not in json.dumps(rec) and "notes" not in json.dumps(rec)
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=False)


@pytest.mark.skipif(not IS_ROOT, reason="mounting needs root")
def test_residue_never_enters_a_mount_inside_a_guest_directory(tree: Path) -> None:
    """A filesystem mounted inside a directory of the guest (a share, a stick that would not
    unmount) is not emptied through it: it stays, and the wipe says it failed."""
    guest_dir = tree / "srv/guest-share"
    mnt = guest_dir / "mnt"
    mnt.mkdir(parents=True)
    os.chown(guest_dir, GUEST_UID, GUEST_UID)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "relais-test", str(mnt)], check=True)
    try:
        inside = _owned(mnt / "someone-elses.txt", 0, "keep")
        proc = _run(tree, "run", "--trigger", "nightly")
        assert proc.returncode == 1
        assert inside.read_text() == "keep", "the wipe deleted through a mount point"
        (rec,) = _records(tree)
        assert rec["outcome"] == "failed" and rec["residue"]["remaining"] >= 1, rec  # type: ignore[index]
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.skipif(not IS_ROOT, reason="mounting and running as a fake uid need root")
def test_residue_scan_skips_kernel_filesystems(tree: Path) -> None:
    """/proc shows the guest's processes as entries of its uid: a scan by uid must not take
    them for files (the processes are checked apart)."""
    (tree / "proc").mkdir()
    subprocess.run(["mount", "-t", "proc", "proc", str(tree / "proc")], check=True)
    outsider = subprocess.Popen(["sleep", "300"], user=GUEST_UID, group=GUEST_UID)
    try:
        assert (tree / "proc" / str(outsider.pid)).stat().st_uid == GUEST_UID  # control
        proc = _run(tree, "run", "--trigger", "nightly")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        (rec,) = _records(tree)
        assert rec["outcome"] == "ok" and rec["residue"]["remaining"] == 0, rec  # type: ignore[index]
    finally:
        outsider.kill()
        outsider.wait(timeout=10)
        subprocess.run(["umount", "-l", str(tree / "proc")], check=False)


@pytest.mark.skipif(not IS_ROOT, reason="running processes as a fake uid needs root")
def test_test_mode_never_signals_processes_outside_the_tree(tree: Path) -> None:
    """--root is test mode: a process of the configured uid that does not live in the tree
    (the test runner's own, when a test configures its uid) is never signalled; one that
    lives in the tree is (issue 9.9)."""
    outsider = subprocess.Popen(["sleep", "300"], user=GUEST_UID, group=GUEST_UID)
    insider = _tree_process(tree)
    try:
        proc = _run(tree, "run", "--trigger", "logout")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert insider.wait(timeout=10) is not None
        assert outsider.poll() is None, "test mode killed a process outside the tree"
        (rec,) = _records(tree)
        assert rec["items"]["session"]["removed"] == 1  # type: ignore[index]
    finally:
        for p in (outsider, insider):
            p.kill()
            p.wait(timeout=10)


@pytest.mark.skipif(not IS_ROOT, reason="the rebuilt home is chowned to a fake guest uid")
def test_record_written_even_for_an_empty_session(tree: Path) -> None:
    proc = _run(tree, "run", "--trigger", "remote")
    assert proc.returncode == 0, proc.stderr
    (rec,) = _records(tree)
    assert rec["trigger"] == "remote" and rec["outcome"] == "ok"
    assert json.loads(proc.stdout)["trigger"] == "remote"
    assert (tree / "run/relais-wipe/last-wipe").exists()


def test_unknown_trigger_is_refused(tree: Path) -> None:
    proc = _run(tree, "run", "--trigger", "because")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr
    assert not (tree / "var/log/relais/wipe.jsonl").exists()


def test_missing_configuration_is_one_clear_line(tmp_path: Path) -> None:
    proc = _run(tmp_path, "run")
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("relais-wipe: cannot read configuration")
    assert "Traceback" not in proc.stderr


def test_watcher_process_is_named_relais_wipe(tree: Path) -> None:
    """The SNMP poller looks for a process named relais-wipe (hrSWRunName = comm)."""
    script = tree / "relais-wipe"
    script.write_bytes(WIPE.read_bytes())
    script.chmod(0o755)
    watcher = subprocess.Popen([str(script), "--root", str(tree), "watch"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        status = tree / "run/relais-wipe/status.json"
        while time.monotonic() < deadline and not status.exists():
            time.sleep(0.1)
        assert Path(f"/proc/{watcher.pid}/comm").read_text().strip() == "relais-wipe"
        assert status.exists(), "the watcher wrote no status"
        assert json.loads(status.read_text())["sessions"] == {}
    finally:
        watcher.terminate()
        watcher.wait(timeout=10)


@pytest.mark.skipif(not IS_ROOT, reason="the rebuilt home is chowned to a fake guest uid")
def test_drop_in_settings_override_the_main_file(tree: Path) -> None:
    """The kiosk role's idle reset lives in session-wipe.d/ and wins over the main file."""
    dropin = tree / "etc/relais/session-wipe.d"
    dropin.mkdir()
    (dropin / "50-kiosk.json").write_text(json.dumps({"items": ["tmp", "home"]}))
    (dropin / "10-early.json").write_text(json.dumps({"items": ["home"]}))
    proc = _run(tree, "run", "--trigger", "idle")
    assert proc.returncode == 0, proc.stderr
    (rec,) = _records(tree)
    assert sorted(rec["items"]) == ["home", "tmp"]  # type: ignore[call-overload]
    (dropin / "60-broken.json").write_text("{not json")
    bad = _run(tree, "run")
    assert bad.returncode == 1 and "60-broken.json" in bad.stderr


@pytest.mark.skipif(not IS_ROOT, reason="owning files as a fake guest uid needs root")
def test_canary_is_found_by_the_scan(tree: Path) -> None:
    """`fleet deploy` proves the scan on each station: a canary of the guest's uid planted
    where no item looks, removed by the scan, and the record says so."""
    proc = _run(tree, "run", "--trigger", "deploy", "--canary")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (rec,) = _records(tree)
    assert rec["canary"] == "removed" and rec["residue"]["found"] == 1, rec  # type: ignore[index]
    assert not any((tree / "var/lib/relais-wipe").iterdir())


def _module() -> object:
    """relais-wipe as a module (it has no .py suffix), to drive one wipe from inside."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("relais_wipe_under_test", str(WIPE))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def test_a_session_begun_during_a_wipe_is_not_taken_for_wiped(tree: Path) -> None:
    """The borne's kiosk can come back while a wipe still scans the disk: that new session was
    not wiped by it.  The watcher skips a session's wipe when a wipe ran since the session
    began (``unless_wiped_since``); if "since" meant "since the wipe ended", that session
    would never be wiped, on idle or at logout.  Fails when last-wipe holds the end."""
    rw: Any = _module()
    cfg = rw.Config({"uid": GUEST_UID, "gid": GUEST_UID, "home": "/home/guest",
                     "items": ["slow"], "state_dir": "/run/relais-wipe"}, tree)
    seen: dict[str, float] = {}

    def slow(_cfg: object) -> int:  # the session that begins while the wipe runs
        time.sleep(0.05)
        seen["mid"] = time.time()
        time.sleep(0.05)
        return 0

    rw.WIPERS["slow"] = slow
    rw.check_residue = lambda _cfg: {"remaining": 0, "processes": 0}
    before = time.time()
    time.sleep(0.01)
    first = rw.wipe(cfg, "remote")
    assert first is not None and first["outcome"] == "ok", first
    # a session older than the wipe was ended by it: its own wipe is not needed
    assert rw.wipe(cfg, "logout", unless_wiped_since=before) is None
    # the one begun during the wipe is wiped when it ends
    again = rw.wipe(cfg, "logout", unless_wiped_since=seen["mid"])
    assert again is not None and again["trigger"] == "logout", again
