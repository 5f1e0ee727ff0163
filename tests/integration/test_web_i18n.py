"""Every dashboard text has its English version, and placeholders survive translation."""

from __future__ import annotations

import re
import string
from pathlib import Path

from punte.services.companies import SERIES_TYPES
from punte.web import i18n
from punte.web.pages import LABELS, NAV, SETTINGS_TABS

WEB = Path(i18n.__file__).parent
_CALL = re.compile(r'''\b_\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')''')
_WEB_ERROR = re.compile(r'WebError\(\d+, "([^"]+)"')


def used_texts() -> set[str]:
    texts: set[str] = set()
    for path in [*WEB.rglob("*.html"), *WEB.rglob("*.py")]:
        if path.name.startswith("catalog_en"):
            continue
        source = path.read_text()
        texts |= {eval(m.group(1)) for m in _CALL.finditer(source)}  # string literals only
        texts |= set(_WEB_ERROR.findall(source))
    texts |= set(LABELS.values()) | {n.label for n in NAV + SETTINGS_TABS} | set(SERIES_TYPES.values())
    texts.discard("...")  # the docstring's example
    return texts


def test_every_text_of_the_dashboard_has_an_english_version() -> None:
    missing = sorted(t for t in used_texts() if t not in i18n.EN)
    assert missing == []


def test_english_keeps_the_placeholders_of_the_romanian_text() -> None:
    for ro, en in i18n.EN.items():
        names = {f[1] for f in string.Formatter().parse(ro) if f[1]}
        assert names == {f[1] for f in string.Formatter().parse(en) if f[1]}, ro


def test_translator_fills_values_and_falls_back_to_romanian() -> None:
    assert i18n.translator("en")("Documentul a fost emis: {label}.", label="FCT1") == "The document was issued: FCT1."
    assert i18n.translator("ro")("Documentul a fost emis: {label}.", label="FCT1") == "Documentul a fost emis: FCT1."
    assert i18n.normalize("EN-gb") == "en" and i18n.normalize("fr") == "ro"
