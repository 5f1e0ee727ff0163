"""The paid total and payment state each document keeps (``services.payments.refresh_paid``), on SQLite and
PostgreSQL: they follow every change of payments (every type, several invoices, drafts, deletes, the payment
bridge), they are back-filled by migration 0012, and the dashboard's overview read from them agrees with a
recomputation from the payment allocations."""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from punte.config import Settings
from punte.services.issuing import today_in_romania
from punte.services.payments import paid_amounts, payment_state
from punte.store.db import Database
from punte.store.migrate import upgrade
from punte.store.models import Document, Money
from punte.web import queries
from tests.conftest import PG_URL, Account, _pg_reachable, require_or_skip
from tests.integration.test_invoice_api import body
from tests.integration.test_payments_api import API, CLIENT, TODAY, pay

from .bridge_support import event, payment_intent
from .test_bridge_stripe import deliver, run_worker, setup_bridge

ZERO = Decimal("0")


# ---- what every document must say, recomputed from the allocations -----------------------------------------------


def assert_consistent(db: Database) -> dict[str, tuple[Decimal, str]]:
    """Every document's kept paid total and state equal what its allocations say; returns them by label."""
    with db.session() as s:
        docs = list(s.scalars(select(Document).order_by(Document.id)))
        paid = paid_amounts(s, [d.id for d in docs])
        kept: dict[str, tuple[Decimal, str]] = {}
        for d in docs:
            expected = paid.get(d.id, ZERO)
            assert (d.paid_total, d.payment_state) == (expected, payment_state(d.gross_total, expected)), (
                f"{d.series_name}{d.number_text} ({d.id})")
            kept[f"{d.series_name}{d.number_text or ''}"] = (d.paid_total, d.payment_state)
        company_id = docs[0].company_id if docs else 0
        assert_overview_matches(s, company_id)
    return kept


def reference_overview(s: Any, company_id: int, today: date) -> queries.UnpaidInvoices:
    """The overview as the dashboard computed it before the kept totals: every issued invoice, its allocations."""
    docs = list(s.scalars(select(Document).where(Document.company_id == company_id, Document.kind == "invoice",
                                                  Document.status == "issued")))
    reversed_ids = {d.reverses_id for d in s.scalars(select(Document).where(Document.reverses_id.is_not(None)))}
    paid = paid_amounts(s, [d.id for d in docs])
    result = queries.UnpaidInvoices()
    by_currency: dict[str, Decimal] = defaultdict(lambda: ZERO)
    open_docs = []
    for d in docs:
        owed = d.gross_total - paid.get(d.id, ZERO)
        if d.reverses_id is not None or d.id in reversed_ids or d.gross_total <= 0 or owed <= 0:
            continue
        result.count += 1
        by_currency[d.currency] += owed
        result.overdue += d.due_date is not None and d.due_date < today
        open_docs.append(d)
    result.by_currency = dict(sorted(by_currency.items()))
    open_docs.sort(key=lambda d: ((d.due_date or d.issue_date).isoformat(), d.id))
    result.oldest = [queries.UnpaidInvoice(d.id, f"{d.series_name}{d.number_text}", d.client_name, d.issue_date,
                                           d.due_date, d.currency, d.gross_total, paid.get(d.id, ZERO))
                     for d in open_docs[:10]]
    return result


def assert_overview_matches(s: Any, company_id: int) -> None:
    for today in (today_in_romania(), date(2100, 1, 1)):  # nothing overdue / everything overdue
        assert queries.unpaid_invoices(s, company_id, today) == reference_overview(s, company_id, today)


# ---- the rule ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("gross", "paid", "state"), [
    ("121.00", "0", "unpaid"),
    ("121.00", "0.01", "partial"),
    ("121.00", "120.99", "partial"),
    ("121.00", "121.00", "paid"),
    ("121.00", "121", "paid"),  # the same amount however it is written
    ("-121.00", "0", "unpaid"),  # a storno is never collected
    ("0.00", "0", "unpaid"),
])
def test_payment_state_depends_on_the_amounts_only(gross: str, paid: str, state: str) -> None:
    assert payment_state(Decimal(gross), Decimal(paid)) == state


# ---- through the API -----------------------------------------------------------------------------------------------


def _invoice(client: Any, account: Account, price: Any, **changes: Any) -> str:
    data = body(**changes)
    data["products"][0]["price"] = price
    r = client.post(API + "/invoice", headers=account.headers, json=data)
    assert r.status_code == 200, r.text
    return str(r.json()["number"])


def _ref(number: str) -> list[dict[str, str]]:
    return [{"seriesName": "FCT", "number": number}]


def _ok(r: Any) -> Any:
    assert r.status_code == 200 and not r.json().get("errorText"), r.text
    return r.json()


def test_paid_totals_follow_every_change_of_payments(client: Any, account: Account, db: Database) -> None:
    params = {"cif": account.cif}
    for price in (100, 200, 300, 400, 500):  # FCT0001..0005, VAT included
        _invoice(client, account, price)
    _invoice(client, account, 50, payment={"value": 20, "type": "Chitanta", "paymentSeries": "CH"})  # FCT0006
    assert assert_consistent(db)["FCT0006"] == (Decimal("20.00"), "partial")

    _ok(pay(client, account, type="Ordin plata", value=21, invoicesList=_ref("0001")))
    _ok(pay(client, account, type="Card", value=79, invoicesList=_ref("0001")))
    _ok(pay(client, account, type="Bon", value=42, invoicesList=_ref("0002"), receivedCash=42))
    _ok(pay(client, account, type="Chitanta", value=400, invoicesList=_ref("0003") + _ref("0004")))
    draft = _ok(pay(client, account, type="Chitanta", value=500, isDraft=True, invoicesList=_ref("0005")))
    kept = assert_consistent(db)
    assert kept["FCT0001"] == (Decimal("100.00"), "paid") and kept["FCT0002"] == (Decimal("42.00"), "partial")
    assert kept["FCT0003"] == (Decimal("300.00"), "paid") and kept["FCT0004"] == (Decimal("100.00"), "partial")
    assert kept["FCT0005"] == (ZERO, "unpaid")  # a draft receipt collects nothing yet

    _ok(client.put(API + "/payment/issue", headers=account.headers, params={**params, "id": draft["id"]}))
    assert assert_consistent(db)["FCT0005"] == (Decimal("500.00"), "paid")

    _ok(client.delete(API + "/payment/v2", headers=account.headers, params={
        **params, "paymentType": "Card", "invoiceSeries": "FCT", "invoiceNumber": "0001"}))
    receipt = {**params, "seriesName": "CH", "number": "0003"}  # the last receipt: FCT0005's, issued from a draft
    _ok(client.delete(API + "/payment/chitanta", headers=account.headers, params=receipt))
    kept = assert_consistent(db)
    assert kept["FCT0001"] == (Decimal("21.00"), "partial") and kept["FCT0005"] == (ZERO, "unpaid")

    _ok(client.delete(API + "/payment/chitanta", headers=account.headers, params={**receipt, "number": "0002"}))
    kept = assert_consistent(db)  # one receipt paid two invoices: both lose it
    assert kept["FCT0003"] == (ZERO, "unpaid") and kept["FCT0004"] == (ZERO, "unpaid")

    _ok(client.post(API + "/invoice/reverse", headers=account.headers,
                    json={"companyVatCode": account.cif, "seriesName": "FCT", "number": "0002"}))  # FCT0007
    _ok(client.put(API + "/invoice/cancel", headers=account.headers, params={**params, "seriesName": "FCT",
                                                                             "number": "0003"}))
    with db.session() as s:
        company_id = s.scalar(select(Document.company_id))
        overview = queries.unpaid_invoices(s, company_id, today_in_romania())
    # open: FCT0001 (79 left), 0004 (400), 0005 (500), 0006 (30); 0002 is reversed, 0003 cancelled, 0007 a storno
    assert overview.count == 4 and overview.by_currency == {"RON": Decimal("1009.00")}
    assert assert_consistent(db)["FCT0007"] == (ZERO, "unpaid")
    _ok(client.put(API + "/invoice/restore", headers=account.headers, params={**params, "seriesName": "FCT",
                                                                              "number": "0003"}))
    assert_consistent(db)
    _ok(pay(client, account, type="Extras de cont", value=1, invoicesList=_ref("0003")))
    assert assert_consistent(db)["FCT0003"] == (Decimal("1.00"), "partial")


def test_a_refused_payment_changes_no_paid_total(client: Any, account: Account, db: Database) -> None:
    _invoice(client, account, 100)
    _ok(pay(client, account, type="Card", value=79, invoicesList=_ref("0001")))
    r = pay(client, account, type="Card", value=22, invoicesList=_ref("0001"))  # 21 is left
    assert r.status_code == 400
    assert assert_consistent(db)["FCT0001"] == (Decimal("79.00"), "partial")


def test_a_payment_through_the_bridge_updates_the_invoice(client: Any, account: Account, db: Database,
                                                          settings: Settings) -> None:
    setup_bridge(db, settings)
    _invoice(client, account, 100)
    with db.session() as s:
        doc_id = s.scalar(select(Document.id))
    deliver(client, event("payment_intent.succeeded", payment_intent(
        pi="pi_paid_totals", amount=5000, metadata={"punte_document_id": str(doc_id)})))
    run_worker(db, settings)
    assert assert_consistent(db)["FCT0001"] == (Decimal("50.00"), "partial")


def test_random_sequences_of_payments_keep_the_totals_exact(db: Database, account: Account) -> None:
    """A seeded walk of payments and deletes through the services, checked after every step."""
    from punte.domain.errors import NotFound
    from punte.services.companies import get_company
    from punte.services.payment_deletes import PaymentQuery, delete_payment
    from punte.services.payments import create_payment
    from punte.smartbill.wire import PaymentRequest

    from .web_support import issue_invoice

    rnd = random.Random(20240917)
    for price in ("10", "33.33", "0.07", "250"):
        issue_invoice(db, account.cif, price=price)
    numbers = ["0001", "0002", "0003", "0004"]
    seen: set[str] = set()
    for _ in range(30):
        with db.session(write=True) as s:
            company = get_company(s, account.cif)
            docs = {d.number_text: d for d in s.scalars(select(Document))}
            due = {n: docs[n].gross_total - docs[n].paid_total for n in numbers}
            chosen = [n for n in rnd.sample(numbers, rnd.randint(1, 2)) if due[n] > 0]
            if rnd.random() < 0.3 or not chosen:
                try:
                    delete_payment(s, company, PaymentQuery(payment_type="Ordin plata", invoice_series="FCT",
                                                            invoice_number=rnd.choice(numbers)), actor="test")
                except NotFound:  # no payment on that invoice (refused before any change): the walk goes on
                    pass
            else:
                # the earlier invoices wholly, the last one partly or wholly (a payment never skips an invoice)
                last = Decimal(rnd.randint(1, int(due[chosen[-1]] * 100))) / 100
                value = sum((due[n] for n in chosen[:-1]), ZERO) + last
                create_payment(s, company, PaymentRequest(
                    companyVatCode=account.cif, type="Ordin plata", value=value, issueDate=TODAY,
                    client=CLIENT, invoicesList=[{"seriesName": "FCT", "number": n} for n in chosen],
                ), actor="test")
        seen.update(state for _, state in assert_consistent(db).values())
    assert seen == {"unpaid", "partial", "paid"}


# ---- migration 0012 ------------------------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables yet (its own PostgreSQL schema), to migrate step by step."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    require_or_skip(_pg_reachable(), f"PostgreSQL not reachable at {PG_URL}")
    schema = f"punte_mig_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def _seed_at_0011(url: str) -> None:
    """Invoices and payments as revision 0011 stored them (no paid totals), written with Core."""
    now = datetime.now(UTC)
    money = Money()
    companies = sa.table("companies", sa.column("id"), sa.column("cif"), sa.column("name"), sa.column("country"),
                         sa.column("uses_product_codes"), sa.column("created_at"))
    series = sa.table("series", sa.column("id"), sa.column("company_id"), sa.column("type"), sa.column("name"),
                      sa.column("next_number"), sa.column("padding"), sa.column("is_default"))
    documents = sa.table(
        "documents", *(sa.column(n) for n in (
            "id", "company_id", "kind", "series_id", "series_name", "number", "number_text", "status", "issue_date",
            "currency", "language", "precision", "vat_payer", "vat_on_collection", "client_name", "view_token",
            "created_by", "created_at")),
        *(sa.column(n, sa.JSON()) for n in ("seller", "buyer", "vat_breakdown", "details")),
        *(sa.column(n, money) for n in ("line_total", "allowance_total", "net_total", "vat_total", "gross_total")),
    )
    payments = sa.table("payments", sa.column("id"), sa.column("company_id"), sa.column("type"),
                        sa.column("value", money), sa.column("currency"), sa.column("payment_date"),
                        sa.column("is_cash"), sa.column("created_by"), sa.column("created_at"), sa.column("status"),
                        sa.column("language"))
    allocations = sa.table("payment_allocations", sa.column("payment_id"), sa.column("document_id"),
                           sa.column("position"), sa.column("amount", money))
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(companies.insert().values(id=1, cif="18547290", name="Firma", country="Romania",
                                               uses_product_codes=False, created_at=now))
        conn.execute(series.insert().values(id=1, company_id=1, type="f", name="FCT", next_number=5, padding=4,
                                            is_default=True))
        gross = {1: "121.00", 2: "242.00", 3: "0.30", 4: "363.00"}
        conn.execute(documents.insert(), [{
            "id": n, "company_id": 1, "kind": "invoice", "series_id": 1, "series_name": "FCT", "number": n,
            "number_text": f"{n:04d}", "status": "issued", "issue_date": date(2025, 9, n), "currency": "RON",
            "language": "RO", "precision": 2, "vat_payer": True, "vat_on_collection": False, "client_name": "Client",
            "view_token": f"token-{n}", "created_by": "test", "created_at": now, "seller": {}, "buyer": {},
            "vat_breakdown": [], "details": {}, "line_total": Decimal(g), "allowance_total": ZERO,
            "net_total": Decimal(g), "vat_total": ZERO, "gross_total": Decimal(g)} for n, g in gross.items()])
        # payment 1 pays FCT0001 whole and FCT0002 partly; 2 and 3 are three tenths of FCT0003 (floats would
        # not add up to 0.30 exactly); 4 is a draft receipt on FCT0004, which therefore stays unpaid
        conn.execute(payments.insert(), [{
            "id": p, "company_id": 1, "type": "Ordin plata", "value": Decimal(v), "currency": "RON",
            "payment_date": date(2025, 9, 10), "is_cash": False, "created_by": "test", "created_at": now,
            "status": st, "language": "RO"} for p, v, st in ((1, "200.00", "issued"), (2, "0.10", "issued"),
                                                             (3, "0.20", "issued"), (4, "363.00", "draft"))])
        conn.execute(allocations.insert(), [
            {"payment_id": p, "document_id": d, "position": pos, "amount": Decimal(a)}
            for p, d, pos, a in ((1, 1, 1, "121.00"), (1, 2, 2, "79.00"), (2, 3, 1, "0.10"), (3, 3, 1, "0.20"),
                                 (4, 4, 1, "363.00"))])
    engine.dispose()


def test_migration_0012_back_fills_paid_totals_from_issued_payments(empty_url: str) -> None:
    upgrade(empty_url, "0011")
    _seed_at_0011(empty_url)
    upgrade(empty_url)
    db = Database(empty_url)
    try:
        with db.session() as s:
            kept = {d.number_text: (d.paid_total, d.payment_state)
                    for d in s.scalars(select(Document).order_by(Document.id))}
            assert kept == {"0001": (Decimal("121.00"), "paid"), "0002": (Decimal("79.00"), "partial"),
                            "0003": (Decimal("0.30"), "paid"), "0004": (ZERO, "unpaid")}
            overview = queries.unpaid_invoices(s, 1, date(2025, 9, 30))
            assert overview.count == 2 and overview.by_currency == {"RON": Decimal("526.00")}
        assert_consistent(db)
    finally:
        db.dispose()
