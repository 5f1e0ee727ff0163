"""Document quotas per anniversary month, through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from punte.api.app import create_app
from punte.cli import app as cli_app
from punte.config import get_settings
from punte.domain.errors import DomainError
from punte.domain.periods import shift_months, subscription_period
from punte.services import quotas
from punte.services.companies import add_series, get_company
from punte.services.issuing import today_in_romania
from punte.store.models import Document, Event, Series
from punte.store.models_operations import QuotaUsage
from tests.conftest import make_account
from tests.integration.test_invoice_api import API, body, issue

ESTIMATE = {k: v for k, v in body().items() if k not in ("dueDate", "deliveryDate")}


def set_plan(db, cif: str, limit: int | None, activated: date | None = None, name: str | None = "Silver") -> None:  # type: ignore[no-untyped-def]
    with db.session(write=True) as s:
        quotas.set_plan(
            s, get_company(s, cif), limit=limit, activated_on=activated or shift_months(today_in_romania(), -1),
            name=name, actor="test",
        )


def quota(client, account):  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/quota", params={"cif": account.cif}, headers=account.headers)
    assert r.status_code == 200, r.text
    return r.json()


def next_number(client, account) -> str:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/series", params={"cif": account.cif, "type": "f"}, headers=account.headers)
    return r.json()["list"][0]["nextNumber"]


def test_invoice_over_the_limit_is_refused_with_the_limit_the_count_and_the_reset_day(client, account, db) -> None:  # type: ignore[no-untyped-def]
    set_plan(db, account.cif, 2)
    assert issue(client, account).status_code == 200
    assert issue(client, account).status_code == 200
    with db.session() as s:
        events_before = s.scalar(select(func.count()).select_from(Event))

    r = issue(client, account)

    period = subscription_period(shift_months(today_in_romania(), -1), today_in_romania())
    assert r.status_code == 400
    text = r.json()["errorText"]
    assert text.startswith(quotas.LIMIT_REACHED)
    assert "Limita abonamentului: 2 documente" in text and "emise in aceasta perioada: 2" in text
    assert f"se reseteaza la {period.next_start.strftime('%d.%m.%Y')}" in text
    assert r.json()["number"] == "" and r.json()["series"] == ""
    assert next_number(client, account) == "0003"
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 2
        assert s.scalar(select(func.count()).select_from(Event)) == events_before
        assert s.scalar(select(func.sum(QuotaUsage.used))) == 2


def test_every_kind_counts_invoice_proforma_storno_and_a_draft_when_issued(client, account, db) -> None:  # type: ignore[no-untyped-def]
    set_plan(db, account.cif, 4)
    assert issue(client, account).status_code == 200
    assert client.post(f"{API}/estimate", headers=account.headers, json=ESTIMATE | {"seriesName": "PRF"}).status_code == 200
    r = client.post(f"{API}/invoice/reverse", headers=account.headers,
                    json={"companyVatCode": account.cif, "seriesName": "FCT", "number": "0001"})
    assert r.status_code == 200, r.text
    draft = issue(client, account, body(isDraft=True), path="/invoice/v2").json()["documentId"]
    assert quota(client, account)["used"] == 3  # the draft does not count yet

    r = client.put(f"{API}/invoice/issue", headers=account.headers, params={"cif": account.cif, "documentId": draft})
    assert r.status_code == 200, r.text
    answer = quota(client, account)
    assert answer["used"] == 4 and answer["remaining"] == 0
    assert answer["byKind"] == {"invoice": 3, "proforma": 1}

    refused = client.post(f"{API}/estimate", headers=account.headers, json=ESTIMATE | {"seriesName": "PRF"})
    assert refused.status_code == 400 and refused.json()["errorText"].startswith(quotas.LIMIT_REACHED)
    storno = client.post(f"{API}/invoice/reverse", headers=account.headers,
                         json={"companyVatCode": account.cif, "seriesName": "FCT", "number": "0003"})
    assert storno.status_code == 400 and storno.json()["documentId"] == -1
    assert storno.json()["errorText"].startswith(quotas.LIMIT_REACHED)


def test_receipts_and_other_payments_count_too(client, account, db) -> None:  # type: ignore[no-untyped-def]
    """SmartBill's FAQ: a proforma, its invoice and the collection are three API documents."""
    set_plan(db, account.cif, 3)
    client_data = body()["client"]

    def pay(**fields):  # type: ignore[no-untyped-def]
        data = {"companyVatCode": account.cif, "client": client_data, "issueDate": today_in_romania().isoformat(),
                "isDraft": False, **fields}
        return client.post(f"{API}/payment", headers=account.headers, json=data)

    assert issue(client, account).status_code == 200
    assert pay(type="Chitanta", value=10, isCash=True, invoicesList=[{"seriesName": "FCT", "number": "0001"}]).status_code == 200
    assert pay(type="Card", value=5).status_code == 200
    assert quota(client, account)["byKind"] == {"invoice": 1, "receipt": 1, "payment": 1}
    for refused in (pay(type="Card", value=5), pay(type="Chitanta", value=5, isCash=True)):
        assert refused.status_code == 400 and refused.json()["errorText"].startswith(quotas.LIMIT_REACHED)
    series = client.get(f"{API}/series", headers=account.headers, params={"cif": account.cif, "type": "c"}).json()
    assert series["list"][0]["nextNumber"] == "0002"


def test_documents_count_when_actually_issued_not_by_their_printed_date(client, account, db) -> None:  # type: ignore[no-untyped-def]
    today = today_in_romania()
    set_plan(db, account.cif, 1, activated=today)
    old = (today - timedelta(days=45)).isoformat()
    assert issue(client, account, body(issueDate=old, dueDate=old, deliveryDate=old)).status_code == 200
    assert quota(client, account)["used"] == 1
    assert issue(client, account, body(issueDate=old, dueDate=old, deliveryDate=old)).status_code == 400


def test_deleting_the_last_invoice_does_not_give_its_slot_back(client, account, db) -> None:  # type: ignore[no-untyped-def]
    set_plan(db, account.cif, 1)
    assert issue(client, account).status_code == 200
    r = client.delete(f"{API}/invoice", headers=account.headers,
                      params={"cif": account.cif, "seriesName": "FCT", "number": "0001"})
    assert r.status_code == 200, r.text
    assert quota(client, account)["used"] == 1
    assert issue(client, account).status_code == 400


def test_quota_shows_plan_limit_use_and_period(client, account, db) -> None:  # type: ignore[no-untyped-def]
    activated = date(2025, 1, 20)
    set_plan(db, account.cif, 30, activated=activated, name="Silver")
    issue(client, account)
    period = subscription_period(activated, today_in_romania())
    assert quota(client, account) == {
        "errorText": "", "message": "", "plan": "Silver", "unlimited": False, "limit": 30, "used": 1,
        "remaining": 29, "activated": "2025-01-20", "periodStart": period.start.isoformat(),
        "periodEnd": period.end.isoformat(), "nextPeriodStart": period.next_start.isoformat(),
        "byKind": {"invoice": 1},
    }


def test_without_a_plan_nothing_is_limited_and_unlimited_lifts_a_limit(client, account, db) -> None:  # type: ignore[no-untyped-def]
    for _ in range(2):
        assert issue(client, account).status_code == 200
    answer = quota(client, account)
    assert answer["unlimited"] is True and answer["limit"] is None and answer["periodEnd"] is None
    set_plan(db, account.cif, 2)
    assert issue(client, account).status_code == 400  # the two issued today count once a plan exists
    set_plan(db, account.cif, None)
    assert issue(client, account).status_code == 200
    answer = quota(client, account)
    assert answer["unlimited"] is True and answer["used"] == 3 and answer["remaining"] is None


def test_the_count_resets_on_the_anniversary_day_in_bucharest_time(db, account) -> None:  # type: ignore[no-untyped-def]
    set_plan(db, account.cif, 2, activated=date(2025, 1, 20))
    evening = datetime(2025, 2, 19, 21, 30, tzinfo=UTC)  # 23:30 in Bucharest, still 19 February
    with db.session(write=True) as s:
        company = get_company(s, account.cif)
        quotas.consume(s, company, kind="invoice", at=evening)
        quotas.consume(s, company, kind="receipt", at=evening)
    with pytest.raises(DomainError) as refused, db.session(write=True) as s:
        quotas.consume(s, get_company(s, account.cif), kind="invoice", at=evening + timedelta(minutes=20))
    assert "20.01.2025 - 19.02.2025" in refused.value.text and "se reseteaza la 20.02.2025" in refused.value.text
    after_midnight = datetime(2025, 2, 19, 22, 5, tzinfo=UTC)  # 00:05 on 20 February in Bucharest
    with db.session(write=True) as s:
        quotas.consume(s, get_company(s, account.cif), kind="invoice", at=after_midnight)
        st = quotas.status(s, get_company(s, account.cif), at=after_midnight)
    assert (st.used, st.period.start, st.period.end) == (1, date(2025, 2, 20), date(2025, 3, 19))  # type: ignore[union-attr]


def test_a_request_needing_several_documents_is_refused_whole_and_plans_start_today_at_latest(db, account) -> None:  # type: ignore[no-untyped-def]
    set_plan(db, account.cif, 3)
    with db.session(write=True) as s:
        quotas.consume(s, get_company(s, account.cif), kind="invoice", count=2)
    with pytest.raises(DomainError), db.session(write=True) as s:
        quotas.consume(s, get_company(s, account.cif), kind="receipt", count=2)
    with db.session() as s:
        assert quotas.status(s, get_company(s, account.cif)).used == 2
    with pytest.raises(DomainError, match="nu poate fi in viitor"), db.session(write=True) as s:
        quotas.set_plan(s, get_company(s, account.cif), limit=5, activated_on=today_in_romania() + timedelta(days=1),
                        actor="test")


def test_eight_clients_racing_for_the_last_ten_slots_get_exactly_ten(db, settings) -> None:  # type: ignore[no-untyped-def]
    """The clients use three series (two of invoices, one of proformas), so only the plan lock orders them."""
    account = make_account(db, settings)
    with db.session(write=True) as s:
        add_series(s, get_company(s, account.cif), type="f", name="FCTB", actor="test")
    app = create_app(settings, db=db, migrate=False)
    with TestClient(app) as c:
        for _ in range(5):
            assert issue(c, account).status_code == 200
    set_plan(db, account.cif, 15)
    requests = [("/invoice", body()), ("/invoice", body(seriesName="FCTB")), ("/estimate", ESTIMATE | {"seriesName": "PRF"})]

    def client_run(i: int) -> list[int]:
        path, data = requests[i % 3]
        codes = []
        with TestClient(app) as c:
            for _ in range(6):
                codes.append(c.post(API + path, headers=account.headers, json=data).status_code)
        return codes

    with ThreadPoolExecutor(8) as pool:
        codes = [code for chunk in pool.map(client_run, range(8)) for code in chunk]

    assert codes.count(200) == 10 and codes.count(400) == 38
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 15
        assert sum(s.scalars(select(Series.next_number - 1))) == 15
        assert s.scalar(select(func.sum(QuotaUsage.used))) == 15


def test_cli_sets_a_plan_and_lifts_it(db, account, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PUNTE_DATABASE_URL", db.url)
    monkeypatch.setenv("PUNTE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        r = runner.invoke(cli_app, ["plan", "set", "--cif", account.cif, "--limit", "7", "--activated", "2025-01-20",
                                    "--name", "Gold"])
        assert r.exit_code == 0, r.output
        r = runner.invoke(cli_app, ["plan", "show", "--cif", account.cif])
        assert "plan Gold, limit 7, used 0" in " ".join(r.output.split())
        r = runner.invoke(cli_app, ["plan", "set", "--cif", account.cif, "--unlimited", "--activated", "2025-01-20"])
        assert r.exit_code == 0 and "unlimited" in r.output
        r = runner.invoke(cli_app, ["plan", "set", "--cif", account.cif, "--activated", "2025-01-20"])
        assert r.exit_code == 1 and "--limit N" in " ".join(r.output.split())
    finally:
        get_settings.cache_clear()
    with db.session() as s:
        plan = quotas.get_plan(s, get_company(s, account.cif))
        assert plan is not None and plan.document_limit is None and plan.name is None


OPERATIONS_TABLES = {
    "company_plans", "quota_usage", "price_lists", "price_list_items", "price_list_assignments",
    "client_group_members", "recurring_invoices", "recurring_occurrences",
}


def test_the_operations_migration_matches_the_models(db) -> None:  # type: ignore[no-untyped-def]
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from punte.store.models import Base

    def ours(diff: object) -> bool:
        for item in diff if isinstance(diff, list) else [diff]:
            for part in item if isinstance(item, tuple) else ():
                table = getattr(part, "table", None)
                name = part if isinstance(part, str) else getattr(table, "name", None) or getattr(part, "name", None)
                if name in OPERATIONS_TABLES:
                    return True
        return False

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = [d for d in compare_metadata(context, Base.metadata) if ours(d)]
    assert diffs == []
