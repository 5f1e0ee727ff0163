"""Recurring invoices run by the worker, with an injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from punte.cli import app as cli_app
from punte.config import get_settings
from punte.services import quotas, recurring
from punte.services.companies import get_company
from punte.services.issuing import today_in_romania
from punte.store.models import Document, Event, Job
from punte.store.models_operations import RecurringOccurrence
from punte.worker.runner import Worker
from tests.integration.test_invoice_api import API, body

BUCHAREST = ZoneInfo("Europe/Bucharest")
START = date(2030, 1, 31)


class Clock:
    """The worker's notion of now; tests move it instead of sleeping."""

    def __init__(self, day: date) -> None:
        self.set(day)

    def set(self, day: date, hour: int = 9) -> None:
        self.now = datetime(day.year, day.month, day.day, hour, 0, tzinfo=BUCHAREST)

    def __call__(self) -> datetime:
        return self.now


def template() -> dict[str, Any]:
    return body(dueDate=None, deliveryDate=None, issueDate=None)


def add(client, account, **fields: Any):  # type: ignore[no-untyped-def]
    data = {"companyVatCode": account.cif, "every": 1, "unit": "month", "startDate": START.isoformat(),
            "dueDays": 15, "invoice": template(), **fields}
    return client.post(f"{API}/recurring", headers=account.headers, json=data)


def run_workers(db, settings, clock: Clock, count: int = 1) -> None:  # type: ignore[no-untyped-def]
    """``count`` workers started together, each firing the periodic task and running jobs until idle."""
    barrier = threading.Barrier(count)
    workers = [Worker(db, settings, worker_id=f"w{i}", services={"clock": clock}) for i in range(count)]

    def go(w: Worker) -> None:
        barrier.wait()
        w.run_until_idle()

    threads = [threading.Thread(target=go, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def detail(client, account, schedule_id: int) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get(f"{API}/recurring/{schedule_id}", params={"cif": account.cif}, headers=account.headers)
    assert r.status_code == 200, r.text
    return r.json()


def invoices(db) -> list[tuple[str, date, date | None]]:  # type: ignore[no-untyped-def]
    with db.session() as s:
        return [(d.number_text, d.issue_date, d.due_date) for d in s.scalars(select(Document).order_by(Document.id))]


def test_a_due_occurrence_issues_one_invoice_and_the_history_shows_it(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    r = add(client, account, name="Abonament lunar")
    assert r.status_code == 200, r.text
    created = r.json()
    assert (created["status"], created["nextOccurrence"], created["history"]) == ("active", "2030-01-31", [])
    clock = Clock(START - timedelta(days=1))
    run_workers(db, settings, clock)
    assert invoices(db) == []

    clock.set(START)
    run_workers(db, settings, clock)

    assert invoices(db) == [("0001", START, START + timedelta(days=15))]
    answer = detail(client, account, created["id"])
    assert answer["history"] == [{"date": "2030-01-31", "status": "issued", "series": "FCT", "number": "0001",
                                  "documentId": answer["history"][0]["documentId"], "error": None}]
    assert answer["nextOccurrence"] == "2030-02-28"  # month-end handling


def test_missed_occurrences_are_caught_up_once_even_with_two_workers(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    schedule_id = add(client, account).json()["id"]
    clock = Clock(START)
    run_workers(db, settings, clock)
    clock.set(date(2030, 4, 15))  # the worker was down from February to mid-April

    run_workers(db, settings, clock, count=2)
    run_workers(db, settings, clock, count=2)

    caught_up = date(2030, 4, 15)
    assert invoices(db) == [
        ("0001", START, date(2030, 2, 15)),
        ("0002", caught_up, caught_up + timedelta(days=15)),
        ("0003", caught_up, caught_up + timedelta(days=15)),
    ]
    history = detail(client, account, schedule_id)["history"]
    assert [(h["date"], h["status"], h["number"]) for h in history] == [
        ("2030-01-31", "issued", "0001"), ("2030-02-28", "issued", "0002"), ("2030-03-31", "issued", "0003"),
    ]
    with db.session() as s:
        keys = sorted(s.scalars(select(Job.key).where(Job.kind == recurring.JOB_KIND)))
        assert keys == [f"{schedule_id}:2030-01-31", f"{schedule_id}:2030-02-28", f"{schedule_id}:2030-03-31"]


def test_concurrent_periodic_runs_queue_each_occurrence_once(client, account, db) -> None:  # type: ignore[no-untyped-def]
    add(client, account, unit="day")
    barrier = threading.Barrier(4)

    def tick() -> None:
        barrier.wait()
        recurring.enqueue_due(db, START + timedelta(days=9))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(RecurringOccurrence)) == 10
        assert s.scalar(select(func.count()).select_from(Job).where(Job.kind == recurring.JOB_KIND)) == 10


def test_occurrences_during_a_pause_are_skipped_and_not_caught_up(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    schedule_id = add(client, account, unit="week").json()["id"]
    clock = Clock(START)
    run_workers(db, settings, clock)
    with db.session(write=True) as s:
        recurring.queue_due(s, schedule_id, START + timedelta(days=7))  # queued, then paused before it ran
        recurring.pause(s, get_company(s, account.cif), schedule_id, actor="test")
    clock.set(START + timedelta(days=20))
    run_workers(db, settings, clock)
    with db.session(write=True) as s:
        recurring.resume(s, get_company(s, account.cif), schedule_id, actor="test", today=START + timedelta(days=20))
    clock.set(START + timedelta(days=28))
    run_workers(db, settings, clock)

    history = detail(client, account, schedule_id)["history"]
    assert [(h["date"], h["status"]) for h in history] == [
        ("2030-01-31", "issued"), ("2030-02-07", "skipped"), ("2030-02-21", "issued"), ("2030-02-28", "issued"),
    ]  # 14 February fell during the pause: never issued
    assert history[1]["error"] == "Factura recurenta era suspendata."
    assert len(invoices(db)) == 3


def test_a_refused_occurrence_records_the_error_and_is_not_retried(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    schedule_id = add(client, account).json()["id"]
    with db.session(write=True) as s:
        quotas.set_plan(s, get_company(s, account.cif), limit=0, activated_on=today_in_romania(), actor="test")
    run_workers(db, settings, Clock(START))
    [occurrence] = detail(client, account, schedule_id)["history"]
    assert occurrence["status"] == "failed" and occurrence["error"].startswith(quotas.LIMIT_REACHED)
    with db.session() as s:
        job = s.scalar(select(Job).where(Job.kind == recurring.JOB_KIND))
        assert job.status == "done" and job.attempts == 1
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert s.scalar(select(Event.action).where(Event.entity == "recurring_invoice").order_by(Event.id.desc())) \
            == "occurrence_failed"


def test_a_schedule_past_its_end_date_finishes(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    schedule_id = add(client, account, endDate="2030-03-15").json()["id"]
    run_workers(db, settings, Clock(date(2030, 6, 1)))
    answer = detail(client, account, schedule_id)
    assert answer["status"] == "finished" and answer["nextOccurrence"] is None
    assert [h["date"] for h in answer["history"]] == ["2030-01-31", "2030-02-28"]
    assert len(invoices(db)) == 2


def test_pause_resume_and_stop_through_the_api(client, account) -> None:  # type: ignore[no-untyped-def]
    schedule_id = add(client, account).json()["id"]
    params, headers = {"cif": account.cif}, account.headers
    assert client.put(f"{API}/recurring/{schedule_id}/pause", params=params, headers=headers).json()["status"] == "paused"
    again = client.put(f"{API}/recurring/{schedule_id}/pause", params=params, headers=headers)
    assert again.status_code == 400 and "nu este activa" in again.json()["errorText"]
    assert client.put(f"{API}/recurring/{schedule_id}/resume", params=params, headers=headers).json()["status"] == "active"
    stopped = client.put(f"{API}/recurring/{schedule_id}/stop", params=params, headers=headers).json()
    assert stopped["status"] == "stopped" and stopped["nextOccurrence"] is None
    refused = client.put(f"{API}/recurring/{schedule_id}/resume", params=params, headers=headers)
    assert refused.status_code == 400 and "adaugati-o din nou" in refused.json()["errorText"]
    listed = client.get(f"{API}/recurring", params=params, headers=headers).json()["list"]
    assert [(x["id"], x["status"], x["history"]) for x in listed] == [(schedule_id, "stopped", None)]
    missing = client.get(f"{API}/recurring/{schedule_id + 1}", params=params, headers=headers)
    assert missing.status_code == 400 and "nu a fost gasita" in missing.json()["errorText"]


def test_a_bad_schedule_or_template_is_refused_at_creation(client, account, db) -> None:  # type: ignore[no-untyped-def]
    for fields, text in (
        ({"invoice": body(products=[])}, "Factura nu contine produse!"),
        ({"invoice": body(isDraft=True)}, "nu poate fi ciorna"),
        ({"invoice": body(seriesName="XYZ")}, "Seria nu a fost gasita!"),
        ({"invoice": body(client={"name": "X", "county": "Atlantida"})}, "e-Factura"),
        ({"startDate": "2020-01-01"}, "nu poate fi in trecut"),
        ({"unit": "fortnight"}, "day, week, month, year"),
        ({"unit": "week", "dayOfMonth": 5}, "lunare sau anuale"),
        ({"endDate": "2030-01-01"}, "anterioara datei de inceput"),
        ({"invoice": body(companyVatCode="RO14399840")}, "nu este al firmei"),
    ):
        r = add(client, account, **fields)
        assert r.status_code == 400 and text in r.json()["errorText"], (fields, r.text)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Document)) == 0
        assert s.scalar(select(func.count()).select_from(Event).where(Event.entity == "recurring_invoice")) == 0


def test_cli_adds_lists_and_shows_history(account, db, settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "abonament.json"
    path.write_text(json.dumps(template()), encoding="utf-8")
    monkeypatch.setenv("PUNTE_DATABASE_URL", db.url)
    monkeypatch.setenv("PUNTE_DATA_DIR", str(tmp_path / "var"))
    get_settings.cache_clear()
    cif = ["--cif", account.cif]
    try:
        runner = CliRunner()
        r = runner.invoke(cli_app, ["recurring", "add", *cif, "--template", str(path), "--unit", "month",
                                    "--day-of-month", "31", "--start", "2030-01-15", "--due-days", "10"])
        assert r.exit_code == 0, r.output
        with db.session() as s:
            [view] = recurring.list_schedules(s, get_company(s, account.cif))
        assert view.next_occurrence == date(2030, 1, 31)
        run_workers(db, settings, Clock(date(2030, 2, 1)))
        listing = " ".join(runner.invoke(cli_app, ["recurring", "list", *cif]).output.split())
        assert f"{view.id}" in listing and "2030-02-28" in listing
        hist = " ".join(runner.invoke(cli_app, ["recurring", "history", *cif, "--id", str(view.id)]).output.split())
        assert "│ 2030-01-31 │ issued │ FCT0001 │" in hist
        for action, status in (("pause", "paused"), ("resume", "active"), ("stop", "stopped")):
            r = runner.invoke(cli_app, ["recurring", action, *cif, "--id", str(view.id)])
            assert r.exit_code == 0, r.output
            with db.session() as s:
                assert recurring.schedule_view(s, get_company(s, account.cif), view.id).status == status
        r = runner.invoke(cli_app, ["recurring", "resume", *cif, "--id", str(view.id)])
        assert r.exit_code == 1
    finally:
        get_settings.cache_clear()


def test_an_emailed_template_needs_smtp_and_each_invoice_is_queued_for_sending(client, account, db, settings) -> None:  # type: ignore[no-untyped-def]
    from punte.services.email import NOT_CONFIGURED_AT_ISSUE, SmtpConfig, configure_smtp
    from punte.store.models_email import EmailMessage

    emailed = {**template(), "sendEmail": True}
    r = add(client, account, invoice=emailed)
    assert (r.status_code, r.json()["errorText"]) == (400, NOT_CONFIGURED_AT_ISSUE)
    with db.session(write=True) as s:
        configure_smtp(s, get_company(s, account.cif), SmtpConfig(host="127.0.0.1", from_address="facturi@firma.ro"),
                       secret_key=settings.resolved_secret_key(), actor="test")
    assert add(client, account, invoice=emailed).status_code == 200

    clock = Clock(START)
    worker = Worker(db, settings, kinds=[recurring.JOB_KIND], services={"clock": clock})  # sending is not tested here
    worker.run_until_idle()

    with db.session() as s:
        [message] = s.scalars(select(EmailMessage))
        assert (message.document_id, message.to_addrs, message.status) == (
            s.scalar(select(Document.id)), "client@example.ro", "queued")
