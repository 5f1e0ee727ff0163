"""The dashboard's two languages: Romanian (the default, written in the templates) and English.

Templates write Romanian text inside ``_("...")``; :data:`EN` maps each text to its English version.
A test checks that every text the templates and routes use has its English entry. Error texts coming
from the services (SmartBill's texts) are shown as they are, in Romanian.
"""

from __future__ import annotations

from collections.abc import Callable

LANGUAGES = {"ro": "Română", "en": "English"}
DEFAULT = "ro"

EN: dict[str, str] = {}  # filled by catalog_en below


def translator(language: str) -> Callable[..., str]:
    """``_(text, **values)``: the text in ``language`` with ``{name}`` placeholders filled."""
    table = EN if language == "en" else None

    def _(text: str, **values: object) -> str:
        out = table.get(text, text) if table is not None else text
        return out.format(**values) if values else out

    return _


def normalize(language: str | None) -> str:
    value = (language or "").strip().lower()[:2]
    return value if value in LANGUAGES else DEFAULT


from . import catalog_en, catalog_en_documents, catalog_en_integrations, catalog_en_automation  # noqa: E402

for _catalog in (catalog_en, catalog_en_documents, catalog_en_integrations, catalog_en_automation):
    EN.update(_catalog.EN)
