"""Every message of the dashboard (Python and templates) is in the one catalogue, translated;
the catalogue's extraction (``python -m fleet.i18n update``) finds the templates' messages."""

from __future__ import annotations

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

from fleet import i18n


def test_every_web_message_is_extracted_and_translated() -> None:
    template = i18n.extract()
    assert isinstance(template, Catalog)
    web = [m for m in template if m.id and any(loc[0].startswith("fleet/web/") for loc in m.locations)]
    from_templates = [m for m in web if any(loc[0].startswith("fleet/web/templates/") for loc in m.locations)]
    assert len(from_templates) > 150, "the templates' messages must be extracted"
    with i18n.catalogue("fr").open("rb") as fh:
        fr = read_po(fh, locale="fr", domain=i18n.DOMAIN)
    missing = []
    for m in web:
        found = fr.get(m.id, context=m.context)
        strings = found.string if found is not None else None
        if not strings or (isinstance(strings, tuple) and not all(strings)):
            missing.append((m.context, m.id))
    assert not missing, f"untranslated web messages: {missing}"


def test_a_page_word_differs_by_language() -> None:
    from fleet.web.labels import label

    with i18n.use_language("fr"):
        assert label("summary", "expected") == "fermé — éteint comme prévu"
    with i18n.use_language("en"):
        assert label("summary", "expected") == "closed — expected off"
