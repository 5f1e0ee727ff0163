"""Received invoices: what suppliers send a company through e-Factura, downloaded once and archived.

How it flows
    :func:`sync_received` lists the company's ``FACTURA PRIMITA`` messages
    (``listaMesajePaginatieFactura`` with ``filtru=P``) from its cursor (at most 60 days back, ANAF's
    retention) and, for each message not yet downloaded, queues one ``efactura.received.download``
    job keyed by (company, environment, download id): the queue's unique key makes "downloaded
    once" hold with any number of workers and syncs. The job downloads the ZIP (through the
    per-message daily budget counted in the database: ANAF allows 10 downloads a message a day),
    archives it under ``data_dir/archive/<cif>/<yyyy>/<mm>/`` *before anything else*, reads the
    invoice XML with :func:`punte.efactura.ubl_read.read_ubl` and stores one
    :class:`~punte.store.models_received.ReceivedInvoice` row. A ZIP whose XML cannot be read is
    archived and listed all the same, as ``parse_error`` with the reason.

When
    The worker's periodic task queues one keyed sync job per company with e-Factura enabled and a
    usable token every ``received_sync_minutes`` (the key names the period, so several workers
    queue it once); ``punte efactura received sync`` and ``POST /SBORO/api/efactura/received/sync``
    do it on demand. A company without a token (or whose authorization must be renewed) is skipped
    and its sync status says so.

The cursor
    ``received_sync.synced_until`` is the end of the last complete listing. The next listing starts
    :data:`RESCAN` before it, because a message can appear in ANAF's list after the time it carries
    (``data_creare`` has minute precision and is the time of the upload, not of its processing);
    messages already downloaded or queued are recognised by their download id and skipped.

Reading what was stored (lists, PDF, XML) is :mod:`punte.services.received_read`.
"""

from __future__ import annotations

import io
import logging
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from punte.config import Settings
from punte.domain.errors import DomainError
from punte.domain.identifiers import cif_digits
from punte.efactura.anaf import archive
from punte.efactura.anaf.answers import Message, read_zip, sniff
from punte.efactura.anaf.client import AnafClient
from punte.efactura.anaf.environments import environment, realm_of
from punte.efactura.anaf.errors import (
    AnafLimitReached,
    AnafPermanentError,
    AnafTransientError,
    AnafUnauthorized,
)
from punte.efactura.anaf.limits import DbCallBudget
from punte.efactura.anaf.oauth import OAuthError, OAuthTransientError
from punte.efactura.ubl_read import ReadAllowance, ReadInvoice, UblReadError, read_ubl
from punte.store.db import Database
from punte.store.models import Company, Job
from punte.store.models_anaf import AnafToken, EfacturaSettings
from punte.store.models_received import DOWNLOADED, PARSE_ERROR, ReceivedInvoice, ReceivedSync
from punte.worker import queue
from punte.worker.runner import JobContext, Retry, handler, periodic

from . import anaf_connection, events

log = logging.getLogger("punte.efactura.received")

SYNC_JOB = "efactura.received.sync"
DOWNLOAD_JOB = "efactura.received.download"
ACTOR = "worker"
BUCHAREST = ZoneInfo("Europe/Bucharest")

#: ANAF keeps messages this long; a listing may not start earlier.
RETENTION = timedelta(days=60)
#: Distance kept from the 60-day edge, so clocks a few minutes apart do not make the listing an error.
EDGE = timedelta(minutes=10)
#: How far before the last listing's end the next one starts again (see the module docstring).
RESCAN = timedelta(days=2)
#: ANAF refuses an ``endTime`` in the future; when its clock is behind ours, list up to this much earlier.
CLOCK_SKEW = timedelta(minutes=2)

SYNC_OK = "ok"
SYNC_ERROR = "error"
NOT_CONNECTED = anaf_connection.NOT_CONNECTED
REAUTHORIZE = anaf_connection.REAUTHORIZE


def now_utc() -> datetime:
    return datetime.now(UTC)


# -- access to ANAF --------------------------------------------------------------------------------------
class _Access:
    """An :class:`AnafClient` for one company, with its token refreshed once when ANAF refuses it."""

    def __init__(self, db: Database, settings: Settings, company_id: int, cif: str, *,
                 transport: httpx.BaseTransport | None, oauth_transport: httpx.BaseTransport | None,
                 worker_id: str) -> None:
        self.db, self.settings, self.worker_id = db, settings, worker_id
        self.oauth_transport = oauth_transport
        with db.session() as session:
            row, token = anaf_connection.token_for_company(session, company_id)
            self.environment, self.token_id, realm = row.environment, token.id, token.realm
        if realm != realm_of(self.environment):
            raise anaf_connection.AnafNotConnected(
                f"Firma este conectata la {'sandbox' if realm == 'sandbox' else 'ANAF'}, dar foloseste mediul "
                f"{self.environment}: rulati 'punte anaf connect --cif {cif} --env {self.environment}'."
            )
        self._token = self._access_token()
        self.client = AnafClient(
            environment(settings, self.environment).api_url, access_token=lambda: self._token,
            transport=transport, connect_timeout=settings.anaf_connect_timeout,
            read_timeout=settings.anaf_read_timeout, budget=DbCallBudget(db),
        )

    def _access_token(self) -> str:
        return anaf_connection.access_token(self.db, self.settings, self.token_id, transport=self.oauth_transport,
                                            worker_id=self.worker_id)

    def refresh(self) -> None:
        """ANAF said 401/403: refresh the token now (a revoked one fails here and stays refused)."""
        anaf_connection.refresh_token(self.db, self.settings, self.token_id, transport=self.oauth_transport,
                                      worker_id=self.worker_id, force=True)
        self._token = self._access_token()

    def close(self) -> None:
        self.client.close()


def _connection_error(exc: Exception) -> tuple[str, str, float]:
    """(sync status, text, seconds to wait) for a failure to obtain an access token."""
    if isinstance(exc, anaf_connection.ReauthorizeNeeded):
        return REAUTHORIZE, exc.text, 3600.0
    if isinstance(exc, anaf_connection.AnafNotConnected):
        return NOT_CONNECTED, exc.text, 3600.0
    if isinstance(exc, OAuthTransientError):
        return SYNC_ERROR, f"OAuth: {exc.text}", 60.0
    if isinstance(exc, OAuthError):
        return SYNC_ERROR, f"OAuth: {exc.text}", 600.0
    if isinstance(exc, DomainError):  # punte is not configured for ANAF (client id and secret)
        return SYNC_ERROR, exc.text, 3600.0
    raise exc


_ACCESS_ERRORS = (DomainError, OAuthError)


def message_time(message: Message) -> datetime | None:
    """ANAF's ``data_creare`` (Romanian local time, minute precision) in UTC."""
    if message.data_creare is None:
        return None
    return message.data_creare.replace(tzinfo=BUCHAREST).astimezone(UTC)


# -- sync: the message list -----------------------------------------------------------------------------
@dataclass(frozen=True)
class SyncResult:
    """What one sync did. ``status`` is ``ok``, ``not connected``, ``reauthorize needed`` or ``error``."""

    cif: str
    environment: str
    status: str
    text: str | None = None
    listed: int = 0
    queued: int = 0
    start: datetime | None = None
    end: datetime | None = None
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == SYNC_OK


def _download_key(company_id: int, env: str, download_id: str) -> str:
    return f"{company_id}:{env}:{download_id}"


def company_environment(session: Session, company_id: int) -> str:
    env = session.scalar(select(EfacturaSettings.environment).where(EfacturaSettings.company_id == company_id))
    return env or "sandbox"


def sync_row(session: Session, company_id: int, env: str, *, lock: bool = False) -> ReceivedSync | None:
    stmt = select(ReceivedSync).where(ReceivedSync.company_id == company_id, ReceivedSync.environment == env)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def _ensuresync_row(session: Session, company_id: int, env: str) -> ReceivedSync:
    row = sync_row(session, company_id, env, lock=True)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = ReceivedSync(company_id=company_id, environment=env, status=SYNC_OK, listed=0, queued=0,
                               updated_at=now_utc())
            session.add(row)
    except IntegrityError:
        row = sync_row(session, company_id, env, lock=True)
        assert row is not None
    return row


def _record_status(db: Database, company: Company, env: str, status: str, text: str | None, now: datetime,
                   *, actor: str, retry_after: float | None = None) -> SyncResult:
    """Remember why a sync could not run (an event only when the status changes)."""
    with db.session(write=True) as session:
        row = _ensuresync_row(session, company.id, env)
        changed = row.status != status or row.status_text != text
        row.status, row.status_text, row.last_sync_at, row.updated_at = status, text, now, now_utc()
        if changed:
            events.record(session, company_id=company.id, entity="received_sync", entity_id=company.id,
                          action="sync_failed" if status != SYNC_OK else "sync_ok", actor=actor,
                          data={"environment": env, "status": status, "text": text})
    if status != SYNC_OK:
        log.info("received invoices of %s not synced: %s: %s", company.cif, status, text)
    return SyncResult(company.cif, env, status, text, retry_after=retry_after)


def _list(access: _Access, cif: str, start: datetime, end: datetime) -> tuple[list[Message], datetime]:
    """The received-invoice messages between ``start`` and ``end`` (every page), and the end used."""
    refreshed = skewed = False
    while True:
        try:
            return list(access.client.lista_mesaje_paginatie(cif, start, end, filtru="P")), end
        except AnafUnauthorized:
            if refreshed:
                raise
            refreshed = True
            access.refresh()
        except AnafPermanentError as exc:
            if skewed or "viitor" not in exc.message.lower():
                raise
            skewed = True
            end = end - CLOCK_SKEW  # ANAF's clock is behind ours


def sync_received(
    db: Database, settings: Settings, company: Company, *, transport: httpx.BaseTransport | None = None,
    oauth_transport: httpx.BaseTransport | None = None, now: datetime | None = None, worker_id: str = "punte",
    actor: str = ACTOR,
) -> SyncResult:
    """List the company's received invoices since its cursor and queue the download of each new one.

    Never raises for ANAF or connection trouble: the outcome (and what to do about it) is the
    result's ``status``/``text`` and is stored as the company's sync status.
    """
    now = now or now_utc()
    with db.session() as session:
        env = company_environment(session, company.id)
        state = sync_row(session, company.id, env)
        synced_until = state.synced_until if state is not None else None
    try:
        access = _Access(db, settings, company.id, company.cif, transport=transport,
                         oauth_transport=oauth_transport or transport, worker_id=worker_id)
    except _ACCESS_ERRORS as exc:
        status, text, wait = _connection_error(exc)
        return _record_status(db, company, env, status, text, now, actor=actor, retry_after=wait)
    env = access.environment
    floor = now - RETENTION + EDGE
    start = max(synced_until - RESCAN, floor) if synced_until is not None else floor
    try:
        messages, end = _list(access, company.cif, start, now)
    except AnafLimitReached as exc:
        wait = max((exc.retry_at - now_utc()).total_seconds(), 60.0)
        return _record_status(db, company, env, SYNC_ERROR, exc.message, now, actor=actor, retry_after=wait)
    except AnafTransientError as exc:
        return _record_status(db, company, env, SYNC_ERROR, exc.message, now, actor=actor,
                              retry_after=exc.retry_after)
    except AnafUnauthorized as exc:
        return _record_status(db, company, env, REAUTHORIZE, exc.message, now, actor=actor, retry_after=600.0)
    except AnafPermanentError as exc:
        return _record_status(db, company, env, SYNC_ERROR, exc.message, now, actor=actor, retry_after=600.0)
    except _ACCESS_ERRORS as exc:  # the refresh after a 401 failed
        status, text, wait = _connection_error(exc)
        return _record_status(db, company, env, status, text, now, actor=actor, retry_after=wait)
    finally:
        access.close()
    received: dict[str, Message] = {m.id: m for m in messages if m.is_received_invoice and m.id}
    queued = _queue_downloads(db, company, env, received, start=start, end=end, now=now, actor=actor)
    return SyncResult(company.cif, env, SYNC_OK, None, listed=len(received), queued=queued, start=start, end=end)


def _queue_downloads(db: Database, company: Company, env: str, received: dict[str, Message], *, start: datetime,
                     end: datetime, now: datetime, actor: str) -> int:
    """Queue one keyed download job per message not downloaded yet; move the cursor. How many were queued."""
    ids = list(received)
    queued = 0
    with db.session(write=True) as session:
        stored: set[str] = set()
        jobs: dict[str, Job] = {}
        for chunk in (ids[i:i + 500] for i in range(0, len(ids), 500)):
            stored |= set(session.scalars(select(ReceivedInvoice.download_id).where(
                ReceivedInvoice.company_id == company.id, ReceivedInvoice.environment == env,
                ReceivedInvoice.download_id.in_(chunk))))
            keys = [_download_key(company.id, env, i) for i in chunk]
            jobs |= {j.key or "": j for j in session.scalars(select(Job).where(Job.kind == DOWNLOAD_JOB,
                                                                              Job.key.in_(keys)))}
        for download_id, message in received.items():
            if download_id in stored:
                continue
            key = _download_key(company.id, env, download_id)
            job = jobs.get(key)
            if job is not None:
                if job.status == "dead":  # still listed by ANAF, so still downloadable: try again
                    queue.requeue(session, job.id)
                continue
            when = message_time(message)
            queue.enqueue(session, DOWNLOAD_JOB, {
                "company_id": company.id, "environment": env, "download_id": download_id,
                "upload_index": message.id_solicitare, "message_at": when.isoformat() if when else None,
                "seller_cif": message.seller_cif,
            }, company_id=company.id, key=key)
            queued += 1
        times = [t for t in (message_time(m) for m in received.values()) if t is not None]
        row = _ensuresync_row(session, company.id, env)
        if row.synced_until is None or end > row.synced_until:
            row.synced_until = end
        if times and (row.last_message_at is None or max(times) > row.last_message_at):
            row.last_message_at = max(times)
        status_changed = row.status != SYNC_OK
        row.status, row.status_text, row.last_sync_at, row.updated_at = SYNC_OK, None, now, now_utc()
        row.listed, row.queued = len(received), queued
        if queued or status_changed:
            events.record(session, company_id=company.id, entity="received_sync", entity_id=company.id,
                          action="synced", actor=actor,
                          data={"environment": env, "listed": len(received), "queued": queued,
                                "start": start.isoformat(), "end": end.isoformat()})
    return queued


# -- download: one message ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Parsed:
    """What the archived ZIP says: the invoice read, or why it could not be."""

    invoice: ReadInvoice | None
    xml_name: str | None
    error: str | None


def xml_members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        return [(n, bundle.read(n)) for n in bundle.namelist()
                if n.lower().endswith(".xml") and not n.rsplit("/", 1)[-1].lower().startswith("semnatura")]


def parse_zip(data: bytes) -> Parsed:
    """Read the invoice inside a ``descarcare`` ZIP (never raises: a failure is ``error``)."""
    try:
        content = read_zip(data)
    except AnafPermanentError as exc:
        return Parsed(None, None, f"arhiva descarcata nu este un ZIP valid: {exc.message}")
    if content.invoice_xml is not None:
        name, xml = content.invoice_name, content.invoice_xml
    elif content.is_error:
        texts = "; ".join(str(f) for f in content.errors)
        return Parsed(None, None, f"ZIP-ul contine un mesaj de erori ANAF, nu o factura: {texts}"[:2000])
    else:
        members = xml_members(data)
        if not members:
            return Parsed(None, None, "ZIP-ul nu contine fisierul XML al facturii")
        name, xml = members[0]
    try:
        return Parsed(read_ubl(xml), name, None)
    except UblReadError as exc:
        return Parsed(None, name, f"factura nu poate fi citita: {exc}")
    except (ValueError, ArithmeticError) as exc:  # a reader gap must not lose the archived file
        log.exception("reading received invoice %s failed", name)
        return Parsed(None, name, f"factura nu poate fi citita: {type(exc).__name__}: {exc}")


def _amount(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _allowance_json(a: ReadAllowance) -> dict[str, Any]:
    return {"kind": "charge" if a.is_charge else "allowance", "reason": a.reason, "reasonCode": a.reason_code,
            "amount": _amount(a.signed_amount), "percentage": _amount(a.percentage),
            "baseAmount": _amount(a.base_amount)}


def _lines_json(read: ReadInvoice) -> list[dict[str, Any]]:
    """The product lines (``kind`` "line", with the allowances and charges already inside their net amount),
    then one entry per document-level allowance (negative ``netAmount``) or charge, so that the entries'
    ``netAmount`` add up to the invoice's total without VAT (BT-109), as the PDF draws them."""
    lines = [{"kind": "line", "name": ln.name, "description": ln.description, "code": ln.code,
              "quantity": _amount(ln.quantity), "unitCode": ln.unit_code, "unitPrice": _amount(ln.unit_price),
              "netAmount": _amount(ln.net_amount), "vatCategory": ln.vat_category,
              "vatPercentage": _amount(ln.vat_percentage), "allowances": [_allowance_json(a) for a in ln.allowances]}
             for ln in read.lines]
    for a in read.allowances:
        lines.append({**_allowance_json(a), "name": a.reason or ("Taxa" if a.is_charge else "Reducere"),
                      "netAmount": _amount(a.signed_amount), "vatCategory": a.vat_category,
                      "vatPercentage": _amount(a.vat_percentage)})
    return lines


def _vat_json(read: ReadInvoice) -> list[dict[str, Any]]:
    return [{"category": s.category, "percentage": _amount(s.percentage), "taxableAmount": _amount(s.taxable_amount),
             "taxAmount": _amount(s.tax_amount), "exemptionReason": s.exemption_reason} for s in read.vat_breakdown]


def _party_cif(raw: str | None) -> str | None:
    if not raw:
        return None
    digits = cif_digits(raw)
    return digits if digits.isdigit() else raw.strip()


@dataclass(frozen=True)
class _Download:
    company_id: int
    environment: str
    download_id: str
    upload_index: str | None
    message_at: datetime | None
    seller_cif: str | None

    @classmethod
    def of(cls, payload: dict[str, Any]) -> _Download:
        when = payload.get("message_at")
        return cls(int(payload["company_id"]), str(payload["environment"]), str(payload["download_id"]),
                   payload.get("upload_index"), datetime.fromisoformat(when) if when else None,
                   payload.get("seller_cif"))

    @property
    def archive_name(self) -> str:
        return f"primita_{self.upload_index or 'x'}_{self.download_id}"

    @property
    def archive_day(self) -> date:
        return (self.message_at or now_utc()).astimezone(BUCHAREST).date()


def _stored(db: Database, item: _Download) -> bool:
    with db.session() as session:
        return session.scalar(select(ReceivedInvoice.id).where(
            ReceivedInvoice.company_id == item.company_id, ReceivedInvoice.environment == item.environment,
            ReceivedInvoice.download_id == item.download_id)) is not None


def _fetch(access: _Access, item: _Download) -> bytes:
    """The ZIP: downloaded, with one token refresh when ANAF refuses the token."""
    try:
        return access.client.descarcare(item.download_id)
    except AnafUnauthorized:
        access.refresh()
        return access.client.descarcare(item.download_id)


def download_received(db: Database, settings: Settings, payload: dict[str, Any], *,
                      transport: httpx.BaseTransport | None = None,
                      oauth_transport: httpx.BaseTransport | None = None, worker_id: str = "punte") -> str:
    """The ``efactura.received.download`` job: download (once), archive, read, store.

    Returns ``stored``, ``parse_error`` or ``known`` (already downloaded); raises :class:`Retry`
    when it must wait (ANAF's daily limit, ANAF unavailable, no usable token).
    """
    item = _Download.of(payload)
    if _stored(db, item):
        return "known"
    with db.session() as session:
        company = session.get(Company, item.company_id)
    if company is None:
        return "known"
    # Archived before a crash but not recorded: the copy on disk saves one of the day's downloads.
    existing = archive.candidate_path(settings.data_dir, company.cif, item.archive_day, item.archive_name)
    data = existing.read_bytes() if existing.is_file() else None
    if data is not None and sniff(data) != "zip":
        data = None
    if data is None:
        data = _download(db, settings, company, item, transport=transport, oauth_transport=oauth_transport,
                         worker_id=worker_id)
    path, digest = archive.store(settings.data_dir, company.cif, item.archive_day, item.archive_name, data)
    parsed = parse_zip(data)
    return _store_row(db, company, item, parsed, path, digest, len(data))


def _download(db: Database, settings: Settings, company: Company, item: _Download, *,
              transport: httpx.BaseTransport | None, oauth_transport: httpx.BaseTransport | None,
              worker_id: str) -> bytes:
    try:
        access = _Access(db, settings, company.id, company.cif, transport=transport,
                         oauth_transport=oauth_transport or transport, worker_id=worker_id)
    except _ACCESS_ERRORS as exc:
        _, text, wait = _connection_error(exc)
        raise Retry(text, after=wait) from exc
    if access.environment != item.environment:
        access.close()
        raise Retry(f"firma foloseste acum mediul {access.environment}; mesajul {item.download_id} este din "
                    f"{item.environment}", after=3600, count=True)
    try:
        return _fetch(access, item)
    except AnafLimitReached as exc:
        raise Retry(exc.message, after=max((exc.retry_at - now_utc()).total_seconds(), 60.0)) from exc
    except AnafTransientError as exc:
        raise Retry(exc.message, after=exc.retry_after) from exc
    except AnafPermanentError as exc:  # includes a token still refused after a refresh
        raise Retry(exc.message, after=3600, count=True) from exc
    except _ACCESS_ERRORS as exc:
        _, text, wait = _connection_error(exc)
        raise Retry(text, after=wait) from exc
    finally:
        access.close()


def _store_row(db: Database, company: Company, item: _Download, parsed: Parsed, path: str, digest: str,
               size: int) -> str:
    read = parsed.invoice
    row = ReceivedInvoice(
        company_id=company.id, environment=item.environment, download_id=item.download_id,
        upload_index=item.upload_index, message_at=item.message_at,
        status=DOWNLOADED if read is not None else PARSE_ERROR, error=parsed.error, xml_name=parsed.xml_name,
        supplier_cif=(_party_cif(read.supplier.cif) if read is not None else None) or _party_cif(item.seller_cif),
        lines=_lines_json(read) if read is not None else [],
        vat_breakdown=_vat_json(read) if read is not None else [],
        archive_path=path, archive_sha256=digest, archive_size=size, created_at=now_utc(),
    )
    if read is not None:
        row.kind, row.type_code, row.number = read.kind, read.type_code[:4], read.number[:100]
        row.supplier_name = read.supplier.name[:300] or None
        row.buyer_cif = _party_cif(read.customer.cif)
        row.issue_date, row.due_date, row.currency = read.issue_date, read.due_date, read.currency[:3]
        row.net_total, row.vat_total, row.gross_total, row.payable = (
            read.net_total, read.vat_total, read.gross_total, read.payable)
    with db.session(write=True) as session:
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            return "known"  # another worker stored it meanwhile
        events.record(session, company_id=company.id, entity="received_invoice", entity_id=row.id,
                      action="downloaded" if read is not None else "parse_error", actor=ACTOR,
                      data={"download_id": item.download_id, "environment": item.environment,
                            "number": row.number, "supplier_cif": row.supplier_cif, "sha256": digest,
                            "error": parsed.error})
    if read is None:
        log.warning("received invoice %s of %s archived but not read: %s", item.download_id, company.cif,
                    parsed.error)
    return "stored" if read is not None else PARSE_ERROR


# -- on demand and on a schedule -------------------------------------------------------------------------
def queue_sync(session: Session, company: Company, *, actor: str, now: datetime | None = None) -> Job:
    """Queue a sync of the company's received invoices (one per minute at most: later calls get the same job).

    Raises :class:`AnafNotConnected` / :class:`ReauthorizeNeeded` when the company cannot list its
    messages now.
    """
    now = now or now_utc()
    status = anaf_connection.connection_status(session, company, now)
    if status.state == NOT_CONNECTED:
        raise anaf_connection.AnafNotConnected(
            f"Firma {company.cif} nu este conectata la ANAF: rulati 'punte anaf connect --cif {company.cif}'.")
    if status.state == REAUTHORIZE:
        raise anaf_connection.ReauthorizeNeeded(
            f"Autorizarea ANAF a firmei {company.cif} trebuie refacuta ({status.reason}): rulati "
            f"'punte anaf connect --cif {company.cif}'.")
    job = queue.enqueue(session, SYNC_JOB, {"company_id": company.id}, company_id=company.id,
                        key=f"{company.id}:manual:{int(now.timestamp() // 60)}", max_attempts=3)
    events.record(session, company_id=company.id, entity="received_sync", entity_id=company.id,
                  action="sync_requested", actor=actor, data={"job_id": job.id})
    return job


def schedule_syncs(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """The periodic task's work: one keyed sync job per enabled, connected company and period.

    Enabled companies that cannot sync (no token, authorization to renew) get that as their sync
    status instead. Returns how many jobs were queued (0 when this period's are already there).
    """
    minutes = settings.received_sync_minutes
    if minutes <= 0:
        return 0
    now = now or now_utc()
    bucket = int(now.timestamp() // (minutes * 60))
    skipped: list[tuple[Company, str, str, str]] = []
    due: dict[str, Company] = {}
    with db.session() as session:  # a read first: most minutes there is nothing to queue
        rows = session.execute(
            select(Company, EfacturaSettings, AnafToken)
            .join(EfacturaSettings, EfacturaSettings.company_id == Company.id)
            .outerjoin(AnafToken, AnafToken.id == EfacturaSettings.token_id)
            .where(EfacturaSettings.enabled.is_(True))
            .order_by(Company.id)
        ).all()
        for company, efactura, token in rows:
            if token is None:
                skipped.append((company, efactura.environment, NOT_CONNECTED,
                                f"Firma nu este conectata la ANAF: rulati 'punte anaf connect --cif {company.cif}'."))
                continue
            state, reason = anaf_connection.token_state(token, now)
            if state == REAUTHORIZE:
                skipped.append((company, efactura.environment, REAUTHORIZE,
                                f"Autorizarea ANAF trebuie refacuta ({reason}): rulati 'punte anaf connect --cif "
                                f"{company.cif}'."))
                continue
            due[f"{company.id}:auto:{bucket}"] = company
        if due:
            queued_keys = set(session.scalars(select(Job.key).where(Job.kind == SYNC_JOB, Job.key.in_(list(due)))))
            due = {k: c for k, c in due.items() if k not in queued_keys}
    if due:
        with db.session(write=True) as session:  # the key makes a racing worker's enqueue a no-op
            for key, company in due.items():
                queue.enqueue(session, SYNC_JOB, {"company_id": company.id}, company_id=company.id, key=key,
                              max_attempts=3)
    for company, env, status, text in skipped:
        with db.session() as session:
            row = sync_row(session, company.id, env)
            same = row is not None and row.status == status and row.status_text == text
        if not same:
            _record_status(db, company, env, status, text, now, actor=ACTOR)
    return len(due)


@periodic("efactura.received", 60)
def _periodic_sync(db: Database, settings: Settings, services: dict[str, Any]) -> None:
    schedule_syncs(db, settings)


@handler(SYNC_JOB)
def run_sync(ctx: JobContext) -> None:
    with ctx.db.session() as session:
        company = session.get(Company, int(ctx.job.payload["company_id"]))
    if company is None:
        return
    transport = ctx.services.get("anaf_transport")
    result = sync_received(ctx.db, ctx.settings, company, transport=transport,
                           oauth_transport=ctx.services.get("anaf_oauth_transport", transport),
                           worker_id=ctx.worker_id)
    if result.status == SYNC_ERROR:
        raise Retry(result.text or "sync failed", after=result.retry_after, count=True)


@handler(DOWNLOAD_JOB)
def run_download(ctx: JobContext) -> None:
    transport = ctx.services.get("anaf_transport")
    download_received(ctx.db, ctx.settings, ctx.job.payload, transport=transport,
                      oauth_transport=ctx.services.get("anaf_oauth_transport", transport), worker_id=ctx.worker_id)


__all__ = [
    "DOWNLOAD_JOB", "SYNC_JOB", "Parsed", "SyncResult", "company_environment", "download_received", "parse_zip",
    "queue_sync", "schedule_syncs", "sync_received", "sync_row", "xml_members",
]
