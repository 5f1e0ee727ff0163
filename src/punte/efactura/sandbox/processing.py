"""What ANAF does with a received file between ``in prelucrare`` and ``ok`` / ``nok``.

Checks, in order (every failing one is reported, as ANAF lists all errors of a file):

1. The root element must be the declared standard (UBL: ``Invoice``, CN: ``CreditNote``, CII:
   ``CrossIndustryInvoice``); otherwise the file is not taken over at all
   (``XML cu erori nepreluat de sistem``: no answer ZIP, no message).
2. UBL and CN: the UBL 2.1 XSD and ANAF's Schematron (punte's :class:`Validator`, the very rules
   punte validates with before sending). Without installed rules: the XSD when installed, else
   nothing, and a warning in the log (see :class:`RuleChecker`). CII is not validated.
3. "Global" checks: a Romanian seller CIF must be a real CIF (checksum); the seller (the buyer
   with ``autofactura=DA``) must be the ``cif`` the file was uploaded for.
4. Duplicate: an invoice with the same seller, number and issue date already accepted (``ok``)
   in the same environment makes this one ``nok`` with ANAF's text naming the first upload.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from punte.domain.identifiers import is_valid_cif
from punte.efactura.rules import RulesNotInstalled, default_validator, ubl_xsd_dir
from punte.efactura.validator import Finding, Validator
from punte.store.models_sandbox import AnafSandboxUpload

from . import formats
from .clock import bucharest_day
from .ubl_read import ROOTS, read_facts

log = logging.getLogger("punte.efactura.sandbox")

SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
INDEX_BASE = 5_000_000_000  # index_incarcare = INDEX_BASE + row id
DOWNLOAD_BASE = 3_000_000_000  # id_descarcare = DOWNLOAD_BASE + row id
_EXPECTED_ROOT = {"UBL": "UBL", "CN": "CN", "CII": "CII"}
_XSD = {"UBL": "maindoc/UBL-Invoice-2.1.xsd", "CN": "maindoc/UBL-CreditNote-2.1.xsd"}


def finding_message(finding: Finding) -> str:
    """A finding as ANAF writes it in the error XML: ``[RULE-ID]-text``."""
    text = finding.text.strip()
    return text if text.startswith(f"[{finding.rule_id}]") else f"[{finding.rule_id}]-{text}"


class RuleChecker:
    """ANAF's rules for UBL documents, from an injected validator or the rules installed in ``data_dir``."""

    def __init__(self, data_dir: Path, validator: Validator | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.validator = validator
        self._warned = False
        self._schemas: dict[str, etree.XMLSchema] = {}
        self._lock = threading.Lock()

    def _resolve(self) -> Validator | None:
        if self.validator is not None:
            return self.validator
        try:
            return default_validator(self.data_dir)
        except RulesNotInstalled as exc:
            if not self._warned:
                self._warned = True
                log.warning("ANAF sandbox: %s The sandbox checks only the XSD (when installed) and the CIF.", exc)
            return None

    def check(self, document: bytes, standard: str) -> list[str]:
        """Error messages of the fatal findings (empty when the document passes)."""
        validator = self._resolve()
        if validator is not None:
            return [finding_message(f) for f in validator.validate(document).fatal]
        return self._xsd_only(document, standard)

    def _xsd_only(self, document: bytes, standard: str) -> list[str]:
        path = ubl_xsd_dir(self.data_dir) / _XSD[standard]
        if not path.is_file():
            return []
        with self._lock:
            schema = self._schemas.get(standard)
            if schema is None:
                schema = self._schemas[standard] = etree.XMLSchema(etree.parse(str(path)))
            valid = schema.validate(etree.fromstring(document, SAFE_PARSER).getroottree())
            errors = list(schema.error_log)
        return [] if valid else [f"[XSD]-line {e.line}: {e.message}" for e in errors]


@dataclass(frozen=True)
class Verdict:
    stare: str  # ok | nok | XML cu erori nepreluat de sistem
    errors: list[str]


def judge(session: Session, upload: AnafSandboxUpload, rules: RuleChecker) -> Verdict:
    """ANAF's verdict on one received file (see the module docstring)."""
    root = etree.fromstring(upload.body, SAFE_PARSER)
    if upload.standard == "RASP":
        return Verdict(formats.STARE_OK, [])
    if ROOTS.get(root.tag) != _EXPECTED_ROOT[upload.standard]:
        return Verdict(formats.STARE_REJECTED, [])
    if upload.standard == "CII":
        return Verdict(formats.STARE_OK, [])
    errors = rules.check(upload.body, upload.standard)
    facts = read_facts(root)
    seller_ro = (facts.seller_country or "RO") == "RO"
    if facts.seller_cif and seller_ro and facts.seller_cif.isdigit() and not is_valid_cif(facts.seller_cif):
        errors.append(formats.SELLER_UNKNOWN.format(cif=facts.seller_cif))
    if upload.autofactura:
        if facts.buyer_cif != upload.cif:
            errors.append(formats.BUYER_NOT_UPLOADER.format(buyer=facts.buyer_cif or "-", cif=upload.cif))
    elif facts.seller_cif != upload.cif:
        errors.append(formats.SELLER_NOT_UPLOADER.format(seller=facts.seller_cif or "-", cif=upload.cif))
    if facts.number and facts.issue_date and facts.seller_cif:
        first = session.execute(
            select(AnafSandboxUpload.id, AnafSandboxUpload.received_at)
            .where(AnafSandboxUpload.env == upload.env, AnafSandboxUpload.seller_cif == facts.seller_cif,
                   AnafSandboxUpload.invoice_number == facts.number, AnafSandboxUpload.issue_date == facts.issue_date,
                   AnafSandboxUpload.stare == formats.STARE_OK, AnafSandboxUpload.id != upload.id)
            .order_by(AnafSandboxUpload.id)
            .limit(1)
        ).first()
        if first is not None:
            errors.append(formats.DUPLICATE.format(index=INDEX_BASE + first.id,
                                                   day=bucharest_day(first.received_at).isoformat()))
    return Verdict(formats.STARE_NOK if errors else formats.STARE_OK, errors)

