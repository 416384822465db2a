"""The one message catalogue (fleet/i18n.py, fleet/locale): complete, consistent, French by
default, context-local."""

from __future__ import annotations

import contextvars
import re
import string
import threading

import pytest
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from fleet import i18n
from fleet.errors import ConfigError


def _catalogue() -> Catalog:
    with i18n.catalogue("fr").open("rb") as fh:
        return read_po(fh, locale="fr", domain=i18n.DOMAIN)


def _fields(text: str) -> set[str]:
    return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}


def test_every_marked_message_has_its_french_translation() -> None:
    template = i18n.extract()
    assert isinstance(template, Catalog)
    french = _catalogue()
    missing = []
    for message in template:
        if not message.id:
            continue
        found = french.get(message.id, message.context)
        strings = found.string if found is not None else ""
        if not (all(strings) if isinstance(strings, tuple) else strings) or (found and found.fuzzy):
            missing.append(message.id)
    assert missing == [], "run python -m fleet.i18n update, then translate in fleet/locale/fr/..."
    assert len(list(template)) > 200


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for message in _catalogue():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for s in strings:
            if _fields(s) != _fields(ids[0]):
                wrong.append((ids[0], s))
    assert wrong == []


def test_the_extraction_sees_help_texts_and_contexts() -> None:
    template = i18n.extract()
    assert isinstance(template, Catalog)
    assert template.get("Show the version and exit.") is not None  # N_ in a typer option
    assert template.get("down", "state") is not None  # NC_ with its context


@pytest.mark.parametrize(("environ", "expected"), [
    ({}, "fr"),
    ({"LANG": "C.UTF-8"}, "fr"),
    ({"LANG": "fr_FR.UTF-8"}, "fr"),
    ({"LANG": "en_US.UTF-8"}, "en"),
    ({"LANG": "de_DE.UTF-8"}, "fr"),
    ({"LC_ALL": "fr_FR.UTF-8", "LANG": "en_US.UTF-8"}, "fr"),
    ({"LC_MESSAGES": "en_GB.UTF-8", "LANG": "fr_FR.UTF-8"}, "en"),
    ({"FLEET_LANG": "en", "LANG": "fr_FR.UTF-8"}, "en"),
    ({"FLEET_LANG": "fr", "LANG": "en_US.UTF-8"}, "fr"),
])
def test_french_by_default_english_on_request(environ: dict[str, str], expected: str) -> None:
    assert i18n.resolve_language(None, environ) == expected
    assert i18n.resolve_language("en-GB", environ) == "en"


def test_an_unknown_language_is_an_error() -> None:
    with pytest.raises(ConfigError, match="--lang 'klingon': unknown language"):
        i18n.resolve_language("klingon", {})
    with pytest.raises(ConfigError, match="FLEET_LANG 'xx'"):
        i18n.resolve_language(None, {"FLEET_LANG": "xx"})


def test_the_language_is_context_local() -> None:
    seen: dict[str, str] = {}
    barrier = threading.Barrier(2)

    def speak(code: str) -> None:
        with i18n.use_language(code):
            barrier.wait(timeout=30)  # both languages active at once
            seen[code] = i18n.pgettext("state", "down")

    threads = [threading.Thread(target=contextvars.copy_context().run, args=(speak, c))
               for c in ("fr", "en")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert seen == {"fr": "hors ligne", "en": "down"}
    assert i18n.gettext("error:") == "error:"  # nothing active here: the messages' own English
    assert re.fullmatch(r"\d+ jours", i18n.load("fr").translations.ngettext("{n} day", "{n} days", 3)
                        .format(n=3))


def test_decimals_are_written_as_the_language_writes_them() -> None:
    from fleet.i18n import decimal, use_language

    with use_language("fr"):
        assert (decimal(9.84), decimal(21.30, trim=True), decimal(100.0, trim=True)) == ("9,8", "21,3", "100")
    with use_language("en"):
        assert (decimal(9.84), decimal(21.30, trim=True), decimal(176696, trim=True)) == (
            "9.8", "21.3", "176696")
