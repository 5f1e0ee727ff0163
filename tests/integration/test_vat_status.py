"""A change of the company's VAT-payer status, and what it locks (SmartBill's FAQ), on both engines."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from punte.cli import app as cli_app
from punte.config import get_settings
from punte.domain.errors import DomainError
from punte.services import price_lists, recurring
from punte.services.companies import change_vat_status, get_company, vat_status_on
from punte.services.issuing import today_in_romania
from punte.store.models import Document, Event
from punte.store.models_operations import PriceList, RecurringInvoice
from tests.conftest import make_account
from tests.integration.test_invoice_api import API, body, issue


def change(db, cif: str, *, payer: bool, on: date | None = None, on_collection: bool = False):  # type: ignore[no-untyped-def]
    with db.session(write=True) as s:
        return change_vat_status(s, get_company(s, cif), vat_payer=payer, effective_from=on or today_in_romania(),
                                 vat_on_collection=on_collection, actor="test")


def act(client, account, method: str, path: str, number: str):  # type: ignore[no-untyped-def]
    if path == "/invoice/reverse":
        return client.post(API + path, headers=account.headers,
                           json={"companyVatCode": account.cif, "seriesName": "FCT", "number": number})
    return client.request(method, API + path, headers=account.headers,
                          params={"cif": account.cif, "seriesName": "FCT", "number": number})


def test_invoices_issued_as_payer_are_locked_after_becoming_non_payer(client, account, db) -> None:  # type: ignore[no-untyped-def]
    """Storno, cancel, restore and delete answer SmartBill's texts; nothing changes."""
    issue(client, account)
    issue(client, account)
    assert act(client, account, "PUT", "/invoice/cancel", "0002").status_code == 200
    change(db, account.cif, payer=False)

    for method, path, number, verb in (
        ("POST", "/invoice/reverse", "0001", "storna"),
        ("PUT", "/invoice/cancel", "0001", "anula"),
        ("PUT", "/invoice/restore", "0002", "restaura"),
        ("DELETE", "/invoice", "0002", "sterge"),
    ):
        r = act(client, account, method, path, number)
        assert (r.status_code, r.json()["errorText"]) == (400, f"Documentul a fost emis ca platitor tva. Nu se poate {verb}.")
    with db.session() as s:
        assert [(d.number, d.status) for d in s.scalars(select(Document).order_by(Document.id))] == [
            (1, "issued"), (2, "cancelled"),
        ]


def test_proforma_issued_as_non_payer_is_locked_after_becoming_payer(client, db, settings) -> None:  # type: ignore[no-untyped-def]
    account = make_account(db, settings, vat_payer=False)
    estimate = {k: v for k, v in body(seriesName="PRF").items() if k not in ("dueDate", "deliveryDate")}
    assert client.post(f"{API}/estimate", headers=account.headers, json=estimate).status_code == 200
    change(db, account.cif, payer=True)
    r = client.put(f"{API}/estimate/cancel", headers=account.headers,
                   params={"cif": account.cif, "seriesName": "PRF", "number": "0001"})
    assert (r.status_code, r.json()["errorText"]) == (400, "Documentul a fost emis ca neplatitor tva. Nu se poate anula.")


def test_invoices_issued_under_the_new_status_are_operated_normally(client, account, db) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    change(db, account.cif, payer=False)
    r = issue(client, account, body(products=[{**body()["products"][0], "taxName": None, "taxPercentage": None}]))
    assert r.status_code == 200, r.text
    assert act(client, account, "PUT", "/invoice/cancel", "0002").status_code == 200
    assert act(client, account, "DELETE", "/invoice", "0002").status_code == 200
    assert act(client, account, "PUT", "/invoice/cancel", "0001").status_code == 400


def test_a_change_effective_later_takes_effect_on_its_date(client, account, db) -> None:  # type: ignore[no-untyped-def]
    issue(client, account)
    change(db, account.cif, payer=False, on=today_in_romania() + timedelta(days=10))
    assert act(client, account, "PUT", "/invoice/cancel", "0001").status_code == 200
    with db.session() as s:
        company = get_company(s, account.cif)
        assert vat_status_on(company, today_in_romania() + timedelta(days=10)).vat_payer is False


def _schedule(db, cif: str) -> int:  # type: ignore[no-untyped-def]
    with db.session(write=True) as s:
        company = get_company(s, cif)
        return recurring.create_schedule(
            s, company, recurring.ScheduleData(template=body()), actor="test", today=today_in_romania()
        ).id


def _price_list(db, cif: str, name: str, *, active: bool = True) -> None:  # type: ignore[no-untyped-def]
    with db.session(write=True) as s:
        company = get_company(s, cif)
        price_lists.add_list(s, company, name, actor="test")
        if active:
            price_lists.set_active(s, company, name, True, actor="test")


def test_status_change_stops_recurring_invoices_and_deactivates_price_lists(client, account, db) -> None:  # type: ignore[no-untyped-def]
    active, paused = _schedule(db, account.cif), _schedule(db, account.cif)
    with db.session(write=True) as s:
        recurring.pause(s, get_company(s, account.cif), paused, actor="test")
    _price_list(db, account.cif, "Distribuitori")
    _price_list(db, account.cif, "Vechi", active=False)

    result = change(db, account.cif, payer=False)

    assert result.payer_changed and result.stopped_recurring == [active, paused]
    assert result.deactivated_price_lists == ["Distribuitori"]
    with db.session() as s:
        rows = list(s.scalars(select(RecurringInvoice).order_by(RecurringInvoice.id)))
        assert [r.status for r in rows] == ["stopped", "stopped"]
        assert all("Statutul de platitor TVA" in (r.stopped_reason or "") for r in rows)
        assert not any(s.scalars(select(PriceList.active)))
        actions = {(e.entity, e.action) for e in s.scalars(select(Event))}
        assert {("company", "vat_status_changed"), ("recurring_invoice", "stopped"),
                ("price_list", "deactivated")} <= actions
    listed = client.get(f"{API}/recurring/{active}", params={"cif": account.cif}, headers=account.headers).json()
    assert listed["status"] == "stopped" and listed["nextOccurrence"] is None
    r = client.put(f"{API}/recurring/{active}/resume", params={"cif": account.cif}, headers=account.headers)
    assert r.status_code == 400 and "nu poate fi repornita" in r.json()["errorText"]


def test_vat_on_collection_alone_keeps_recurring_invoices_and_price_lists(account, db) -> None:  # type: ignore[no-untyped-def]
    schedule = _schedule(db, account.cif)
    _price_list(db, account.cif, "Distribuitori")
    result = change(db, account.cif, payer=True, on_collection=True)
    assert not result.payer_changed and result.stopped_recurring == [] and result.deactivated_price_lists == []
    with db.session() as s:
        assert s.get(RecurringInvoice, schedule).status == "active"  # type: ignore[union-attr]
        assert s.scalar(select(PriceList.active)) is True


def test_invalid_status_changes_are_refused(account, db) -> None:  # type: ignore[no-untyped-def]
    for payer, on, on_collection, text in (
        (True, None, False, "Firma are deja acest statut de platitor TVA."),
        (False, date(1990, 1, 1), False, "ulterioara ultimei schimbari (01.01.1990)"),
        (False, None, True, "O firma neplatitoare de tva nu poate folosi tva la incasare!"),
    ):
        with pytest.raises(DomainError) as refused:
            change(db, account.cif, payer=payer, on=on, on_collection=on_collection)
        assert text in refused.value.text
    with db.session() as s:
        assert len(get_company(s, account.cif).vat_statuses) == 1


def test_cli_changes_the_vat_status(account, db, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    schedule = _schedule(db, account.cif)
    monkeypatch.setenv("PUNTE_DATABASE_URL", db.url)
    monkeypatch.setenv("PUNTE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        day = today_in_romania().isoformat()
        r = CliRunner().invoke(cli_app, ["company", "vat-status", "--cif", account.cif, "--non-payer", "--from", day])
        assert r.exit_code == 0, r.output
        assert f"Stopped recurring invoices: {schedule}" in " ".join(r.output.split())
        r = CliRunner().invoke(cli_app, ["company", "vat-status", "--cif", account.cif, "--non-payer", "--from", day])
        assert r.exit_code == 1 and "ulterioara ultimei schimbari" in " ".join(r.output.split())
    finally:
        get_settings.cache_clear()
    with db.session() as s:
        assert vat_status_on(get_company(s, account.cif), today_in_romania()).vat_payer is False
