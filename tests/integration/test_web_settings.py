"""Settings pages (company, series, VAT rates and history, users) and who may change what."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from punte.store.models import Event, Series
from punte.store.models_web import WebMembership
from tests.integration.web_support import add_web_user, logged_in, login

OWNER, ACCOUNTANT, VIEWER = "ana@firma.ro", "dan@firma.ro", "ion@firma.ro"


@pytest.fixture
def users(db, account) -> None:  # type: ignore[no-untyped-def]
    add_web_user(db, account.cif, OWNER, "owner")
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")


def test_everyone_reads_the_company_series_and_vat_settings(client, users) -> None:  # type: ignore[no-untyped-def]
    logged_in(client, VIEWER)
    company = client.get("/settings").text
    assert "Firma Test SRL" in company and "18547290" in company and "J12/1234/2020" in company
    assert "RO49AAAA1B31007593840000" in company and "Utilizatori" not in company  # not the owner's tab
    series = client.get("/settings/series").text
    assert "FCT" in series and "PRF" in series and "CH" in series and "Serie nouă" not in series
    vat = client.get("/settings/vat").text
    assert "plătitor de TVA" in vat and "01.01.1990" in vat
    assert "Normala" in vat and "01.08.2025" in vat and "31.07.2025" in vat and "în vigoare" in vat


def test_only_the_owner_adds_series(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    r = client.post("/settings/series", data={"csrf_token": csrf, "type": "f", "name": "EXP", "next_number": "1"})
    assert r.status_code == 403
    with TestClient(client.app) as owner:
        csrf = logged_in(owner, OWNER)
        r = owner.post("/settings/series", data={"csrf_token": csrf, "type": "f", "name": "EXP", "next_number": "100",
                                                 "padding": "5"})
        assert "Seria EXP a fost adăugată." in r.text and "00100" in r.text
        r = owner.post("/settings/series", data={"csrf_token": csrf, "type": "f", "name": "EXP"})
        assert "Seria EXP exista deja." in r.text
        r = owner.post("/settings/series", data={"csrf_token": csrf, "type": "f", "name": "X Y"})
        assert "doar litere si cifre" in r.text
    with db.session() as s:
        row = s.scalar(select(Series).where(Series.name == "EXP"))
        assert row is not None and row.next_number == 100 and row.padding == 5
        assert s.scalar(select(Event).where(Event.entity == "series", Event.actor == OWNER)) is not None


def test_users_page_is_the_owners(client, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, ACCOUNTANT)
    assert client.get("/settings/users").status_code == 403
    r = client.post("/settings/users", data={"csrf_token": csrf, "email": "x@firma.ro", "role": "owner",
                                             "password": "o-parola-lunga-1"})
    assert r.status_code == 403


def test_owner_adds_a_user_who_can_then_log_in_with_the_role_given(client, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    r = client.post("/settings/users", data={"csrf_token": csrf, "email": "Maria@Firma.ro", "role": "viewer",
                                             "password": "o-parola-lunga-1"})
    assert "Utilizatorul maria@firma.ro are acum acces la firmă." in r.text and "maria@firma.ro" in r.text
    r = client.post("/settings/users", data={"csrf_token": csrf, "email": "maria@firma.ro", "role": "viewer"})
    assert "are deja acces la firma" in r.text
    with TestClient(client.app) as maria:
        assert login(maria, "maria@firma.ro", "o-parola-lunga-1").status_code == 303
        assert maria.get("/documents/new/invoice").status_code == 403


def test_owner_changes_roles_and_removes_users_but_a_company_keeps_an_owner(client, db, users) -> None:  # type: ignore[no-untyped-def]
    csrf = logged_in(client, OWNER)
    with db.session() as s:
        ids = {m.role: m.user_id for m in s.scalars(select(WebMembership))}
    r = client.post("/settings/users/role", data={"csrf_token": csrf, "user_id": ids["owner"], "role": "viewer"})
    assert "cel putin un proprietar" in r.text
    r = client.post("/settings/users/role", data={"csrf_token": csrf, "user_id": ids["viewer"], "role": "owner"})
    assert "Rolul a fost schimbat." in r.text
    with TestClient(client.app) as ion:
        logged_in(ion, VIEWER)
        assert ion.get("/settings/users").status_code == 200  # an owner now
        r = client.post("/settings/users/remove", data={"csrf_token": csrf, "user_id": ids["viewer"]})
        assert "Accesul utilizatorului la firmă a fost retras." in r.text
        assert ion.get("/documents").status_code == 403  # still logged in, no company any more
    with db.session() as s:
        actions = [e.action for e in s.scalars(select(Event).where(Event.entity == "web_user", Event.actor == OWNER))]
        assert actions == ["role_changed", "role_revoked"]
