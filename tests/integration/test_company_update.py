"""Editable company data (``companies.update_company``), its settings form and CLI, and the VAT-status form.

Documents already issued keep the seller data copied onto them at issue: the PDF and UBL of an old
invoice still show the old data after the company changes.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select
from typer.testing import CliRunner

from punte.cli import app as cli_app
from punte.config import get_settings
from punte.domain.errors import DomainError
from punte.services.companies import (
    CompanyChanges,
    CompanyData,
    add_company,
    get_company,
    update_company,
    vat_status_on,
)
from punte.services.issuing import today_in_romania
from punte.store.models import Company, Event
from tests.integration.web_support import add_web_user, issue_invoice, logged_in

OWNER, ACCOUNTANT, VIEWER = "ana@firma.ro", "dan@firma.ro", "ion@firma.ro"
NEW_IBAN = "RO66BACX0000001234567890"


@pytest.fixture
def users(db, account) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")


def _update(db, cif: str, **changes: object) -> dict[str, tuple[object, object]]:  # type: ignore[no-untyped-def]
    with db.session(write=True) as s:
        return update_company(s, get_company(s, cif), CompanyChanges(**changes), actor="test@firma.ro")  # type: ignore[arg-type]


def _company(db, cif: str) -> Company:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return get_company(s, cif)


def _update_events(db) -> list[Event]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return list(s.scalars(select(Event).where(Event.entity == "company", Event.action == "updated").order_by(Event.id)))


def _form(company: Company, **changes: str) -> dict[str, str]:
    data = {name: getattr(company, name) or "" for name in (
        "name", "reg_com", "address", "city", "county", "country", "iban", "bank", "email", "phone", "intra_cif")}
    data.update(changes)
    return data


def test_changes_are_normalised_saved_and_recorded_with_old_and_new_values(db, account) -> None:  # type: ignore[no-untyped-def]
    changed = _update(db, account.cif, name="  Firma  Noua SRL ", county="jud. Sibiu", city="Sibiu",
                      iban="ro66 bacx 0000 0012 3456 7890", email="Office@Firma-Noua.ro", phone="+40 744 123 456",
                      reg_com="")
    assert changed == {
        "name": ("Firma Test SRL", "Firma Noua SRL"), "city": ("Cluj-Napoca", "Sibiu"), "county": ("Cluj", "Sibiu"),
        "iban": ("RO49AAAA1B31007593840000", NEW_IBAN), "email": (None, "Office@Firma-Noua.ro"),
        "phone": (None, "+40 744 123 456"), "reg_com": ("J12/1234/2020", None),
    }
    company = _company(db, account.cif)
    assert (company.name, company.county, company.iban, company.reg_com) == ("Firma Noua SRL", "Sibiu", NEW_IBAN, None)
    assert company.cif == "18547290" and company.bank == "Banca Test"  # what was not asked for stays
    [event] = _update_events(db)
    assert event.actor == "test@firma.ro" and event.entity_id == company.id
    assert event.data["before"] == {"name": "Firma Test SRL", "city": "Cluj-Napoca", "county": "Cluj",
                                    "iban": "RO49AAAA1B31007593840000", "email": None, "phone": None,
                                    "reg_com": "J12/1234/2020"}
    assert event.data["after"]["iban"] == NEW_IBAN and event.data["after"]["county"] == "Sibiu"
    assert _update(db, account.cif, name="Firma Noua SRL", county="Sibiu") == {}  # the same data: no event
    assert len(_update_events(db)) == 1


@pytest.mark.parametrize(("changes", "text"), [
    ({"iban": "RO49AAAA1B31007593840001"}, "IBAN-ul RO49AAAA1B31007593840001 nu este valid."),
    ({"county": "Transilvania"}, "Judetul Transilvania nu a fost recunoscut."),
    ({"country": "Atlantida"}, "Tara Atlantida nu a fost recunoscuta."),
    ({"name": "   "}, "Numele firmei trebuie specificat."),
    ({"email": "nu-e-adresa"}, "Adresa de e-mail a firmei (nu-e-adresa) nu este valida."),
    ({"phone": "suna-ma"}, "Telefonul suna-ma nu este valid."),
    ({"intra_cif": "RO123"}, "Codul de TVA intracomunitar RO123 nu este valid."),
    ({"address": "x" * 301}, "Adresa poate avea cel mult 300 de caractere."),
])
def test_bad_data_is_refused_and_nothing_changes(db, account, changes: dict[str, str], text: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as refused:
        _update(db, account.cif, **{"name": "Alt Nume SRL", **changes})  # a good change next to a bad one
    assert refused.value.text == text
    company = _company(db, account.cif)
    assert company.name == "Firma Test SRL" and company.iban == "RO49AAAA1B31007593840000"
    assert _update_events(db) == []


@pytest.mark.parametrize(("changes", "text"), [
    ({"iban": "RO49AAAA1B31007593840001"}, "IBAN-ul RO49AAAA1B31007593840001 nu este valid."),
    ({"county": "Transilvania"}, "Judetul Transilvania nu a fost recunoscut."),
    ({"name": "   "}, "Numele firmei trebuie specificat."),
    ({"intra_cif": "RO123"}, "Codul de TVA intracomunitar RO123 nu este valid."),
])
def test_a_new_company_is_checked_as_a_change_is(db, changes: dict[str, str], text: str) -> None:  # type: ignore[no-untyped-def]
    good = {"cif": "RO14399840", "name": "Firma Noua SRL", "county": "jud. Cluj", "city": "Cluj-Napoca",
            "address": "Str.  Lunga   1", "email": "office@firma.ro"}
    with pytest.raises(DomainError) as refused, db.session(write=True) as s:
        add_company(s, CompanyData(**{**good, **changes}), actor="test")  # type: ignore[arg-type]
    assert refused.value.text == text
    with db.session() as s:
        assert s.scalar(select(Company).where(Company.cif == "14399840")) is None
    with db.session(write=True) as s:
        add_company(s, CompanyData(**good), actor="test")  # type: ignore[arg-type]
    company = _company(db, "14399840")
    assert (company.county, company.address, company.name) == ("Cluj", "Str. Lunga 1", "Firma Noua SRL")


def test_a_foreign_county_is_kept_as_written(db, account) -> None:  # type: ignore[no-untyped-def]
    _update(db, account.cif, country="Germania", county="Bayern", city="Munchen")
    company = _company(db, account.cif)
    assert (company.country, company.county) == ("Germania", "Bayern")


def test_an_issued_invoice_keeps_the_old_seller_data_in_its_pdf_and_ubl(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    old = issue_invoice(db, account.cif)
    _update(db, account.cif, name="Firma Redenumita SRL", address="Bd. Nou 99", iban=NEW_IBAN)
    new = issue_invoice(db, account.cif)
    logged_in(client, VIEWER)

    def pdf_text(doc_id: int) -> str:
        data = client.get(f"/documents/{doc_id}/pdf").content
        return " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).split())

    old_pdf, new_pdf = pdf_text(old), pdf_text(new)
    assert "Firma Test SRL" in old_pdf and "Memorandumului 28" in old_pdf and "Firma Redenumita SRL" not in old_pdf
    assert "Firma Redenumita SRL" in new_pdf and "Bd. Nou 99" in new_pdf
    old_ubl, new_ubl = client.get(f"/documents/{old}/ubl").text, client.get(f"/documents/{new}/ubl").text
    assert "Firma Test SRL" in old_ubl and "RO49AAAA1B31007593840000" in old_ubl and NEW_IBAN not in old_ubl
    assert "Firma Redenumita SRL" in new_ubl and NEW_IBAN in new_ubl


def test_owner_edits_the_company_from_settings_and_the_cif_never_changes(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    page = client.get("/settings").text
    assert 'id="company-form"' in page and 'name="cif"' not in page
    form = _form(_company(db, account.cif), name="Firma Web SRL", county="Bucuresti", city="Sector 3",
                 cif="RO14399840", csrf_token=csrf, uses_product_codes="1")
    r = client.post("/settings", data=form)
    assert r.url.path == "/settings" and "Datele firmei au fost salvate." in r.text and "Firma Web SRL" in r.text
    company = _company(db, account.cif)
    assert (company.cif, company.name, company.county, company.uses_product_codes) == (
        "18547290", "Firma Web SRL", "București", True)
    r = client.post("/settings", data={**form, "iban": "RO00 1234"})
    assert "IBAN-ul RO001234 nu este valid." in r.text
    r = client.post("/settings", data={**form, "county": "București"})
    assert "Datele firmei nu s-au schimbat." in r.text
    [event] = _update_events(db)
    assert event.actor == OWNER and event.data["after"]["name"] == "Firma Web SRL"


def test_others_see_the_company_read_only(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    page = client.get("/settings").text
    assert "Firma Test SRL" in page and 'id="company-form"' not in page
    r = client.post("/settings", data=_form(_company(db, account.cif), name="Furat SRL", csrf_token=csrf))
    assert r.status_code == 403
    assert client.post("/settings", data=_form(_company(db, account.cif), name="Furat SRL")).status_code == 403
    assert _company(db, account.cif).name == "Firma Test SRL" and _update_events(db) == []


def test_cli_updates_the_company(db, account, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PUNTE_DATABASE_URL", db.url)
    monkeypatch.setenv("PUNTE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        r = CliRunner().invoke(cli_app, ["company", "update", "--cif", account.cif, "--phone", "0264 123 456",
                                         "--bank", "Banca Noua", "--product-codes"])
        assert r.exit_code == 0, r.output
        assert "bank: Banca Test -> Banca Noua" in r.output and "phone: - -> 0264 123 456" in r.output
        r = CliRunner().invoke(cli_app, ["company", "update", "--cif", account.cif, "--iban", "RO12"])
        assert r.exit_code == 1 and "IBAN-ul RO12 nu este valid." in r.output
    finally:
        get_settings.cache_clear()
    company = _company(db, account.cif)
    assert (company.phone, company.bank, company.uses_product_codes) == ("0264 123 456", "Banca Noua", True)
    assert [e.actor for e in _update_events(db)] == ["cli"]


def test_owner_changes_the_vat_status_from_the_vat_tab(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    today = today_in_romania()
    csrf = logged_in(client, OWNER)
    assert 'id="vat-status-form"' in client.get("/settings/vat").text
    r = client.post("/settings/vat", data={"csrf_token": csrf, "status": "non_payer", "effective_from": "1990-01-01"})
    assert "ulterioara ultimei schimbari (01.01.1990)." in r.text
    r = client.post("/settings/vat", data={"csrf_token": csrf, "status": "pe jumatate", "effective_from": today.isoformat()})
    assert "Alegeți noul statut de TVA." in r.text
    r = client.post("/settings/vat", data={"csrf_token": csrf, "status": "payer", "effective_from": "01.09.2026"})
    assert "yyyy-MM-dd" in r.text
    with db.session() as s:
        assert len(get_company(s, account.cif).vat_statuses) == 1
    r = client.post("/settings/vat", data={"csrf_token": csrf, "status": "on_collection",
                                           "effective_from": today.isoformat()})
    assert f"Noul statut de TVA se aplică de la {today.strftime('%d.%m.%Y')}." in r.text
    with db.session() as s:
        status = vat_status_on(get_company(s, account.cif), today)
        assert (status.vat_payer, status.vat_on_collection) == (True, True)
        event = s.scalar(select(Event).where(Event.action == "vat_status_changed"))
        assert event is not None and event.actor == OWNER


def test_only_the_owner_changes_the_vat_status(client, db, account, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    assert 'id="vat-status-form"' not in client.get("/settings/vat").text
    r = client.post("/settings/vat", data={"csrf_token": csrf, "status": "non_payer",
                                           "effective_from": today_in_romania().isoformat()})
    assert r.status_code == 403
    with db.session() as s:
        assert len(get_company(s, account.cif).vat_statuses) == 1
