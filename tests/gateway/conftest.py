"""Shared fixtures of the gateway tests."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLE_LISTS = REPO / "blocklists" / "sample"


def pytest_configure(config: pytest.Config) -> None:
    # test_gateway_check.py imports a check module of fleet/checks, whose marks are registered
    # by fleet.checks.plugin in the verification runs
    config.addinivalue_line("markers", "ref(*ids): reference ids of a check")
    config.addinivalue_line("markers", "kinds(*kinds): device kinds a check applies to")


@pytest.fixture
def sample_lists() -> Path:
    return SAMPLE_LISTS


def make_ut1_archive(path: Path, categories: dict[str, list[str]], mtime: float,
                     white: tuple[str, ...] = ()) -> Path:
    """A synthetic archive in the UT1 layout (``blacklists/<category>/domains`` and ``usage``,
    as ``blacklists.tar.gz`` from dsi.ut-capitole.fr): the real one cannot be downloaded here."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, entries in categories.items():
            for member, text in (("domains", "\n".join(entries) + "\n"),
                                 ("usage", "white\n" if name in white else "black\n")):
                data = text.encode()
                info = tarfile.TarInfo(f"blacklists/{name}/{member}")
                info.size, info.mtime = len(data), int(mtime)
                tar.addfile(info, io.BytesIO(data))
    return path
