"""A partial refund's storno says which invoice it corrects, in its UBL (CIUS-RO BillingReference) and its PDF,
as a whole storno does, although only ``details["partialStornoOf"]`` links it to the original."""

from __future__ import annotations

import io
from typing import Any

from lxml import etree
from pypdf import PdfReader

from punte.config import Settings
from punte.efactura.ubl import build_ubl
from punte.efactura.validator import Validator
from punte.render.pdf import render_pdf
from punte.services.operations import read_model
from punte.store.db import Database
from punte.store.models import Document
from tests.conftest import Account
from tests.unit.efactura.conftest import NS, bundle_path, efactura_dir, validator, xsd_dir, xslt_cache_dir  # noqa: F401

from .bridge_support import charge, event, refund
from .test_bridge_stripe import deliver, invoices, paid_session, run_worker, setup_bridge


def refunded_in_part(client: Any, db: Database, settings: Settings) -> tuple[Document, Document]:
    """A paid Stripe sale of 200.00 RON, then a refund of 50.00: the invoice and its partial storno."""
    setup_bridge(db, settings)
    pi, ch = "pi_partial_ref", "ch_partial_ref"
    deliver(client, paid_session(pi, 20000, metadata={"product_name": "Curs"}))
    run_worker(db, settings)
    deliver(client, event("refund.created", refund(pi=pi, charge_id=ch, amount=5000, refund_id="re_part")))
    run_worker(db, settings)
    original, storno = invoices(db)
    assert storno.reverses_id is None and storno.details["partialStornoOf"] == original.id
    return original, storno


def test_partial_storno_ubl_references_the_original_and_passes_anaf_rules(
    client: Any, db: Database, settings: Settings, account: Account, validator: Validator,  # noqa: F811
) -> None:
    original, storno = refunded_in_part(client, db, settings)
    with db.session() as s:
        xml = build_ubl(read_model(s, s.get(Document, storno.id)))
    root = etree.fromstring(xml)
    ref = root.find("cac:BillingReference/cac:InvoiceDocumentReference", NS)
    assert ref is not None
    assert ref.findtext("cbc:ID", namespaces=NS) == f"FCT{original.number_text}"
    assert ref.findtext("cbc:IssueDate", namespaces=NS) == original.issue_date.isoformat()
    report = validator.validate(xml)
    assert report.ok, report.as_text()


def test_partial_storno_pdf_names_the_original(client: Any, db: Database, settings: Settings,
                                               account: Account) -> None:
    original, storno = refunded_in_part(client, db, settings)
    with db.session() as s:
        data = render_pdf(read_model(s, s.get(Document, storno.id)))
    text = " ".join("".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).split())
    assert f"Storno la factura FCT {original.number_text} din {original.issue_date.strftime('%d.%m.%Y')}" in text
    assert "STORNO" in text


def test_an_ordinary_invoice_references_nothing(client: Any, db: Database, settings: Settings,
                                                account: Account) -> None:
    original, _ = refunded_in_part(client, db, settings)
    with db.session() as s:
        view = read_model(s, s.get(Document, original.id))
    assert view.reverses is None and not view.is_storno
    assert b"BillingReference" not in build_ubl(view)
