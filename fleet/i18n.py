"""French by default, English on request: one gettext catalogue for every face (CLI, web).

The messages are written in English in the code, marked with :func:`gettext` (``_``),
:func:`ngettext` or :func:`N_` (a marker only, for text translated later, e.g. option help).
Their French translations live in one catalogue, ``fleet/locale/fr/LC_MESSAGES/fleet.po``
(Babel, gettext format), read at run time: nothing to compile, a fresh clone works.

The language of a run is chosen once, at the edge, by :func:`resolve_language`:
``--lang`` > ``FLEET_LANG`` (setting ``lang``) > ``LC_ALL`` > ``LC_MESSAGES`` > ``LANG`` >
French.  An English locale (``en``, ``en_GB.UTF-8``...) gives English; anything else, ``C``
included, gives French.  The CLI activates it with :func:`use_language` around a command; the
web dashboard will do the same around a request.  The active language is context-local
(:mod:`contextvars`): two requests never see each other's.

Adding a string: write it in English inside ``_("...")`` (or ``N_`` for a help text), run
``python -m fleet.i18n update`` (extracts every marked string into the catalogue), write the
French ``msgstr`` in ``fleet/locale/fr/LC_MESSAGES/fleet.po``; ``tests/test_i18n.py`` fails
while a marked string has no French translation.
"""

from __future__ import annotations

import gettext as _gettext
import io
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fleet.errors import ConfigError

DOMAIN = "fleet"
LOCALE_DIR = Path(__file__).resolve().with_name("locale")
LANGUAGES = ("fr", "en")
DEFAULT_LANGUAGE = "fr"
SOURCE_LANGUAGE = "en"
"""The language the messages are written in, in the code."""


@dataclass(frozen=True, slots=True)
class Language:
    """A language and its translations."""

    code: str
    translations: _gettext.NullTranslations


_ENGLISH = Language(SOURCE_LANGUAGE, _gettext.NullTranslations())
_ACTIVE: ContextVar[Language] = ContextVar("fleet_language")


def catalogue(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


def parse_language(value: str, where: str = "--lang") -> str:
    """``fr``, ``en``, ``fr_FR.UTF-8``, ``en-GB``... -> ``fr`` or ``en``; anything else is an error."""
    code = value.strip().lower().replace("-", "_").split(".")[0].split("_")[0]
    if code not in LANGUAGES:
        raise ConfigError(f"{where} {value!r}: unknown language (use one of: {', '.join(LANGUAGES)})")
    return code


def resolve_language(arg: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The language of this run (see the module's docstring for the order)."""
    from fleet import settings

    env = os.environ if environ is None else environ
    chosen = settings.get("lang", arg, environ=env)
    if chosen:
        return parse_language(str(chosen), "--lang" if arg else "FLEET_LANG")
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            # the first locale variable set decides, as for every gettext program
            return "en" if value.lower().startswith("en") else DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def load(code: str) -> Language:
    """The translations of one language, read from its catalogue (compiled in memory).  A
    long-running process (the web dashboard) loads each language once and passes the
    :class:`Language` to :func:`use_language`."""
    if code == SOURCE_LANGUAGE:
        return _ENGLISH
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    path = catalogue(code)
    try:
        with path.open("rb") as fh:
            cat = read_po(fh, locale=code, domain=DOMAIN)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the message catalogue: {exc.strerror}") from exc
    buf = io.BytesIO()
    write_mo(buf, cat, use_fuzzy=False)
    buf.seek(0)
    return Language(code, _gettext.GNUTranslations(buf))


@contextmanager
def use_language(code: str | Language) -> Iterator[Language]:
    """Messages are in ``code`` (a language code, or a language already loaded) inside the
    block (context-local)."""
    language = code if isinstance(code, Language) else load(code)
    token = _ACTIVE.set(language)
    try:
        yield language
    finally:
        _ACTIVE.reset(token)


def active() -> Language:
    """The language in use (English, the messages' own, when none was activated)."""
    return _ACTIVE.get(_ENGLISH)


def decimal(value: float, digits: int = 1, *, trim: bool = False) -> str:
    """``value`` with ``digits`` decimals, written as the active language writes it (``9,8`` in
    French, ``9.8`` in English); ``trim``: without trailing zeros (``21,3``, ``100``)."""
    text = f"{value:.{digits}f}"
    if trim and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.replace(".", ",") if active().code == "fr" else text


def gettext(message: str) -> str:
    return active().translations.gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return active().translations.ngettext(singular, plural, n)


def pgettext(context: str, message: str) -> str:
    """A message whose translation depends on where it is used (``pgettext("state", "up")``)."""
    return active().translations.pgettext(context, message)


def N_(message: str) -> str:
    """Mark a message for the catalogue without translating it now (translated when shown)."""
    return message


def NC_(context: str, message: str) -> tuple[str, str]:
    """Mark a message with its context (see :func:`pgettext`) without translating it now."""
    return context, message


_ = gettext

KEYWORDS: Mapping[str, Any] = MappingProxyType(
    {"_": None, "gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None,
     "NC_": ((1, "c"), 2)}
)
"""Babel extraction keywords (the functions above)."""


def extract() -> object:
    """Every marked message of ``fleet/`` as a Babel catalogue (the template)."""
    from babel.messages.catalog import Catalog
    from babel.messages.extract import extract_from_dir

    package = Path(__file__).resolve().parent
    template = Catalog(domain=DOMAIN, project="Relais", msgid_bugs_address="", charset="utf-8")
    # the web dashboard's Jinja2 templates call the same functions (_, ngettext)
    method_map = [("**.py", "python"), ("web/templates/**.html", "jinja2")]
    for filename, lineno, message, comments, context in extract_from_dir(
        package, method_map=method_map, keywords=KEYWORDS, comment_tags=("i18n:",),
        strip_comment_tags=True,
    ):
        template.add(message, None, [(f"fleet/{filename}", lineno)], auto_comments=comments,
                     context=context)
    return template


def _translated(string: object) -> bool:
    if isinstance(string, tuple | list):
        return bool(string) and all(string)
    return bool(string)


def update() -> list[str]:
    """Bring every catalogue in line with the code: new messages added (untranslated), messages
    gone from the code marked obsolete.  Returns the messages still untranslated."""
    from babel.messages.catalog import Catalog
    from babel.messages.pofile import read_po, write_po

    template = extract()
    assert isinstance(template, Catalog)
    missing: list[str] = []
    for code in LANGUAGES:
        if code == SOURCE_LANGUAGE:
            continue
        path = catalogue(code)
        if path.exists():
            with path.open("rb") as fh:
                cat = read_po(fh, locale=code, domain=DOMAIN)
        else:
            cat = Catalog(locale=code, domain=DOMAIN, project="Relais", charset="utf-8")
        cat.update(template, no_fuzzy_matching=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:
            write_po(fh, cat, width=100, sort_output=False, omit_header=False,
                     ignore_obsolete=True, include_lineno=False)
        missing += [str(m.id) for m in cat if m.id and not _translated(m.string)]
    return missing


def _main(argv: list[str]) -> int:  # python -m fleet.i18n update
    if argv != ["update"]:
        sys.stderr.write("usage: python -m fleet.i18n update\n")
        return 2
    missing = update()
    for message in missing:
        sys.stdout.write(f"untranslated: {message!r}\n")
    return 1 if missing else 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))
