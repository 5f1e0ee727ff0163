"""Any invoice punte issues becomes UBL that ANAF's rules accept (zero fatal findings).

Random documents go through the real service layer (validation, VAT lookup, arithmetic, numbering,
storage) on SQLite, then through the UBL writer, the UBL 2.1 XSD and ANAF's 1.0.9 rules.
"""

from __future__ import annotations

import os
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from punte.efactura.ubl import build_ubl
from punte.services.companies import get_company
from punte.services.issuing import create_document
from punte.services.operations import read_model, reverse_invoice
from punte.smartbill.wire import InvoiceRequest
from tests.conftest import make_account
from tests.unit.efactura.conftest import bundle_path, efactura_dir, validator, xsd_dir, xslt_cache_dir  # noqa: F401

EXAMPLES = int(os.environ.get("PUNTE_PROPERTY_EXAMPLES", "500"))

RO_BUYERS = [
    {"name": "Client SRL", "vatCode": "RO14399840", "isTaxPayer": True, "address": "Str. Lunga 1", "city": "Brasov", "county": "Brasov"},
    {"name": "Client Nonplatitor SRL", "vatCode": "14399840", "address": "Bd. Unirii 2", "city": "Sector 3", "county": "Bucuresti"},
    {"name": "Ion Popescu", "vatCode": "", "address": "Str. Florilor 3", "city": "Iasi", "county": "jud. Iași"},
    {"name": "Maria Ionescu", "vatCode": "-", "address": "Str. Mare 4", "city": "sector2", "county": "Mun. București"},
    {"name": "Ana Pop", "vatCode": "1800101221144", "address": "Str. Mica 5", "city": "Cluj-Napoca", "county": "CJ"},
]
EU_BUYER = {"name": "Kunde GmbH", "vatCode": "DE123456789", "isTaxPayer": True, "address": "Hauptstr. 1", "city": "Berlin", "country": "Germania"}
NON_EU_BUYER = {"name": "Client Ltd", "vatCode": "", "address": "1 Main St", "city": "New York", "country": "SUA"}

price = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
quantity = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("50"), places=3)


@st.composite
def invoice_requests(draw: st.DrawFn) -> tuple[dict[str, Any], bool]:
    scenario = draw(st.sampled_from(["domestic", "domestic", "reverse", "intra", "export"]))
    precision = draw(st.sampled_from([2, 3, 4]))
    currency = draw(st.sampled_from(["RON", "RON", "EUR"]))
    n = draw(st.one_of(st.integers(1, 8), st.just(400) if draw(st.integers(0, 60)) == 0 else st.integers(1, 3)))
    if scenario == "domestic":
        buyer = draw(st.sampled_from(RO_BUYERS))
        taxes = [("Normala", 21), ("Redusa", 11), ("SFDD", 0), ("Scutita", 0)]
    elif scenario == "reverse":
        buyer, taxes = RO_BUYERS[0], [("Inversa", 0)]
    elif scenario == "intra":
        buyer, taxes = EU_BUYER, [("SDD", 0)]
    else:
        buyer, taxes = NON_EU_BUYER, [("SDD", 0)]
    products: list[dict[str, Any]] = []
    for i in range(n):
        tax_name, tax_pct = draw(st.sampled_from(taxes))
        products.append({
            "name": f"Produs {i} ăîșțâ", "measuringUnitName": draw(st.sampled_from(["buc", "kg", "ora", "set"])),
            "currency": currency, "quantity": str(draw(quantity)), "price": str(draw(price)),
            "isTaxIncluded": draw(st.booleans()), "taxName": tax_name, "taxPercentage": tax_pct,
            "isService": draw(st.booleans()),
        })
        if n < 50 and draw(st.integers(0, 5)) == 0:
            products.append({"name": "Discount", "isDiscount": True, "numberOfItems": 1,
                             "discountType": 2, "discountPercentage": str(draw(st.integers(1, 50)))})
    body: dict[str, Any] = {
        "companyVatCode": "RO18547290", "client": {**buyer, "saveToDb": False}, "seriesName": "FCT",
        "currency": currency, "precision": precision, "products": products,
        "mentions": draw(st.sampled_from([None, "Conform contract nr. 1 & <anexa>", "x" * 700])),
    }
    if currency == "EUR":
        body["exchangeRate"] = "5.0912"
    if scenario == "domestic" and draw(st.integers(0, 4)) == 0:
        body["usePaymentTax"] = True
    return body, draw(st.integers(0, 3)) == 0


def test_every_issued_invoice_passes_anaf_rules(tmp_path_factory, validator, sqlite_template) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    import shutil

    from punte.config import Settings
    from punte.store.db import Database

    path = tmp_path_factory.mktemp("prop") / "p.db"
    shutil.copy(sqlite_template, path)
    db = Database(f"sqlite:///{path}")
    make_account(db, Settings(data_dir=path.parent, secret_key="k"))
    nonpayer = make_account(db, Settings(data_dir=path.parent, secret_key="k"), cif="RO14399840",
                            email="np@x.ro", vat_payer=False, name="Neplatitor SRL")
    checked = {"n": 0}

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(invoice_requests(), st.booleans())
    def check(case: tuple[dict[str, Any], bool], seller_non_payer: bool) -> None:
        body, storno = case
        if seller_non_payer:
            body = {**body, "companyVatCode": nonpayer.cif, "usePaymentTax": False}
        with db.session(write=True) as s:
            company = get_company(s, body["companyVatCode"])
            doc = create_document(s, company, InvoiceRequest.model_validate(body), kind="invoice", actor="prop").document
            docs = [doc]
            if storno:
                docs.append(reverse_invoice(s, company, "FCT", doc.number_text, None, actor="prop"))
            views = [read_model(s, d) for d in docs]
        for view in views:
            report = validator.validate(build_ubl(view))
            assert report.ok, f"{view.full_number}:\n{report.as_text()}"
            checked["n"] += 1

    check()
    db.dispose()
    assert checked["n"] >= EXAMPLES
