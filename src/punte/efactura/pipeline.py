"""The e-Factura pipeline: worker handlers that take a submission from ``queued`` to ``ok`` or ``nok``.

One job (``efactura.submit``, keyed by submission and attempt) drives one attempt through the
states of :mod:`punte.efactura.anaf.submissions`. Each step is one transition in its own
transaction, guarded by the state it expects (a worker that lost its lease cannot move a
submission another worker has moved), and the job simply runs again after a crash: whatever
state it finds, it continues from there.

The rules that keep SPV free of duplicates:

* The XML is built and validated once per attempt and stored with its sha256; every upload of
  the attempt sends exactly those bytes. A document whose XML changes after upload is never
  re-sent silently (an explicit resubmission is only possible after ``nok``/``invalid``).
* ``uploading`` is committed *before* the upload call and the index *right after* it, in its
  own transaction, before anything else. A worker that finds ``uploading`` (the previous one
  died in between) or an upload that got no answer moves to ``unknown``.
* ``unknown`` is reconciled through the message list before any new upload: each sent invoice
  whose index punte does not know is downloaded (into the archive, so it is downloaded once)
  and compared with the attempt's XML (sha256, else number + issue date). Found: its index is
  adopted. Not found after ``anaf_unknown_grace_seconds``: the same bytes are uploaded again,
  and ANAF's duplicate answer, should it come, is recognised and its index adopted.
* ``stareMesaj`` and ``descarcare`` respect ANAF's per-message daily limits (counted in the
  database), polls back off, and every ZIP is downloaded once and archived under
  ``data_dir/archive/<cif>/<yyyy>/<mm>/`` with its sha256 recorded.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from punte.efactura.anaf import archive
from punte.efactura.anaf.answers import AnafZip, duplicate_of, parse_finding, read_zip
from punte.efactura.anaf.client import AnafClient
from punte.efactura.anaf.environments import environment, realm_of
from punte.efactura.anaf.errors import (
    AnafDuplicateUpload,
    AnafLimitReached,
    AnafPermanentError,
    AnafTransientError,
    AnafUnauthorized,
    AnafUnknownOutcome,
    AnafUploadRejected,
)
from punte.efactura.anaf.limits import DbCallBudget
from punte.efactura.anaf.oauth import OAuthError, OAuthTransientError
from punte.efactura.anaf.submissions import (
    INVALID,
    NOK,
    OK,
    QUEUED,
    SUBMIT_JOB,
    TERMINAL,
    UNKNOWN,
    UPLOADED,
    UPLOADING,
    VALIDATED,
    set_state,
)
from punte.services import anaf_connection
from punte.store.models import Company, Document
from punte.store.models_anaf import EfacturaArchive, EfacturaAttempt, EfacturaSubmission
from punte.worker import queue
from punte.worker.runner import JobContext, Retry, handler, periodic

log = logging.getLogger("punte.efactura")

ACTOR = "worker"
REFRESH_JOB = "anaf.refresh"
MAX_STEPS = 16
RECONCILE_MARGIN = timedelta(minutes=10)
_CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


class _Lost(Exception):
    """The attempt is no longer in the state this step expected: someone else moved it."""


@dataclass(frozen=True)
class Snapshot:
    submission_id: int
    attempt_id: int
    number: int
    state: str
    environment: str
    company_id: int
    cif: str
    document_id: int
    label: str
    issue_date: date
    xml: bytes | None
    xml_sha256: str | None
    endpoint: str | None
    standard: str | None
    extern: bool
    upload_index: str | None
    uploading_at: datetime | None
    anaf_state: str | None
    download_id: str | None
    polls: int
    archive_id: int | None


def findings_of(messages: list[str]) -> list[dict[str, Any]]:
    return [parse_finding(m).as_dict() for m in messages if m]


def _invoice_key(xml: bytes) -> tuple[str, str] | None:
    """(number, issue date) of a UBL invoice or credit note."""
    try:
        root = etree.fromstring(xml, _PARSER)
    except etree.XMLSyntaxError:
        return None
    number = root.findtext(f"{{{_CBC}}}ID")
    issued = root.findtext(f"{{{_CBC}}}IssueDate")
    return ((number or "").strip(), (issued or "").strip()) if number else None


class SubmissionRun:
    """One run of an ``efactura.submit`` job: advance the attempt as far as it can go now."""

    def __init__(self, ctx: JobContext) -> None:
        self.ctx = ctx
        self.db = ctx.db
        self.settings = ctx.settings
        self.submission_id = int(ctx.job.payload["submission_id"])
        self.number = int(ctx.job.payload["attempt"])
        self.transport = ctx.services.get("anaf_transport")
        self.oauth_transport = ctx.services.get("anaf_oauth_transport", self.transport)
        self._client: AnafClient | None = None
        self._token: str | None = None
        self._token_id: int | None = None

    # -- driving ------------------------------------------------------------------------------------
    def run(self) -> None:
        try:
            for _ in range(MAX_STEPS):
                snap = self.load()
                if snap is None or snap.state in TERMINAL:
                    return
                try:
                    getattr(self, f"step_{snap.state}")(snap)
                except _Lost:
                    continue
            raise Retry("too many steps in one run", after=1)
        finally:
            if self._client is not None:
                self._client.close()

    def load(self) -> Snapshot | None:
        with self.db.session() as session:
            row = session.execute(
                select(EfacturaSubmission, EfacturaAttempt, Document.series_name, Document.number_text,
                       Document.issue_date, Company.cif)
                .join(EfacturaAttempt, EfacturaAttempt.submission_id == EfacturaSubmission.id)
                .join(Document, Document.id == EfacturaSubmission.document_id)
                .join(Company, Company.id == EfacturaSubmission.company_id)
                .where(EfacturaSubmission.id == self.submission_id, EfacturaAttempt.number == self.number)
            ).first()
            if row is None:
                return None
            sub, att, series_name, number_text, issue_date, cif = row
            if sub.attempt != self.number:
                return None  # superseded by a resubmission
            return Snapshot(
                sub.id, att.id, att.number, att.state, att.environment, sub.company_id, cif, sub.document_id,
                f"{series_name}{number_text or ''}", issue_date, att.xml, att.xml_sha256, att.endpoint,
                att.standard, att.extern, att.upload_index, att.uploading_at, att.anaf_state, att.download_id,
                att.polls, att.archive_id,
            )

    def move(self, snap: Snapshot, expected: str, state: str | None, *, data: dict[str, Any] | None = None,
             action: str | None = None, **fields: Any) -> None:
        """Set ``fields`` on the attempt and (when ``state``) move it, only if it is still ``expected``."""
        with self.db.session(write=True) as session:
            att = session.get(EfacturaAttempt, snap.attempt_id, with_for_update=True)
            if att is None or att.state != expected:
                raise _Lost()
            sub = session.get(EfacturaSubmission, snap.submission_id, with_for_update=True)
            assert sub is not None
            for name, value in fields.items():
                setattr(att, name, value)
            if state is not None:
                set_state(session, sub, att, state, actor=ACTOR, data=data, action=action)
            elif action is not None:
                set_state(session, sub, att, att.state, actor=ACTOR, data=data, action=action)

    def note(self, snap: Snapshot, error: str) -> None:
        """Record why the attempt waits (not a state change)."""
        with self.db.session(write=True) as session:
            att = session.get(EfacturaAttempt, snap.attempt_id)
            if att is not None and att.last_error != error:
                att.last_error = error[:4000]

    # -- ANAF access ----------------------------------------------------------------------------------
    def client(self, snap: Snapshot) -> AnafClient:
        if self._client is not None:
            return self._client
        try:
            with self.db.session() as session:
                _, token = anaf_connection.token_for_company(session, snap.company_id)
                token_id, realm = token.id, token.realm
            if realm != realm_of(snap.environment):
                raise anaf_connection.AnafNotConnected(
                    f"Firma este conectata la {'sandbox' if realm == 'sandbox' else 'ANAF'}, dar transmiterea este "
                    f"pentru mediul {snap.environment}: rulati 'punte anaf connect --cif {snap.cif} --env "
                    f"{snap.environment}'."
                )
            self._token = anaf_connection.access_token(self.db, self.settings, token_id,
                                                       transport=self.oauth_transport, worker_id=self.ctx.worker_id)
        except (anaf_connection.AnafNotConnected, anaf_connection.ReauthorizeNeeded) as exc:
            self.note(snap, exc.text)
            raise Retry(exc.text, after=3600) from exc
        except OAuthTransientError as exc:
            self.note(snap, f"OAuth: {exc.text}")
            raise Retry(exc.text, after=30) from exc
        except OAuthError as exc:
            self.note(snap, f"OAuth: {exc.text}")
            raise Retry(exc.text, after=600, count=True) from exc
        self._token_id = token_id
        where = environment(self.settings, snap.environment)
        self._client = AnafClient(
            where.api_url, access_token=lambda: self._token or "", transport=self.transport,
            connect_timeout=self.settings.anaf_connect_timeout, read_timeout=self.settings.anaf_read_timeout,
            budget=DbCallBudget(self.db),
        )
        return self._client

    def unauthorized(self, snap: Snapshot, exc: AnafUnauthorized) -> Retry:
        """ANAF refused the token: refresh it once now, then try again shortly."""
        self.note(snap, exc.message)
        assert self._token_id is not None
        try:
            anaf_connection.refresh_token(self.db, self.settings, self._token_id, transport=self.oauth_transport,
                                          worker_id=self.ctx.worker_id, force=True)
        except OAuthError as refresh_error:
            log.warning("ANAF token refresh after 401 failed: %s", refresh_error)
        if self._client is not None:
            self._client.close()
        self._client = None
        return Retry(exc.message, after=5, count=True)

    @contextmanager
    def anaf_failures(self, snap: Snapshot, *, permanent_after: float, note_limit: bool = True) -> Iterator[None]:
        """Turn a failed ANAF read (poll, list, download) into the worker's :class:`Retry`.

        The daily limit waits until it resets; a refused token is refreshed; a transient failure waits
        as ANAF hinted; a permanent one waits ``permanent_after`` seconds and counts as a failed try.
        Each is noted on the attempt (the daily limit only when ``note_limit``).
        """
        try:
            yield
        except AnafLimitReached as exc:
            if note_limit:
                self.note(snap, exc.message)
            raise Retry(exc.message, after=max((exc.retry_at - datetime.now(UTC)).total_seconds(), 60)) from exc
        except AnafUnauthorized as exc:
            raise self.unauthorized(snap, exc) from exc
        except AnafTransientError as exc:
            self.note(snap, exc.message)
            raise Retry(exc.message, after=exc.retry_after) from exc
        except AnafPermanentError as exc:
            self.note(snap, exc.message)
            raise Retry(exc.message, after=permanent_after, count=True) from exc

    def poll_delay(self, polls: int) -> float:
        return min(self.settings.anaf_poll_seconds * (2 ** max(polls - 1, 0)), self.settings.anaf_poll_max_seconds)

    # -- queued: build and validate --------------------------------------------------------------
    def step_queued(self, snap: Snapshot) -> None:
        from punte.efactura.rules import RulesNotInstalled, default_validator
        from punte.efactura.ubl import build_ubl
        from punte.efactura.ubl_parties import UblError, is_individual, resolve_buyer
        from punte.services.operations import read_model

        with self.db.session() as session:
            doc = session.get(Document, snap.document_id)
            status = doc.status if doc is not None else None
            model = read_model(session, doc) if doc is not None and status != "cancelled" else None
        if status is None:
            return
        if model is None:
            self.move(snap, QUEUED, INVALID, messages=[{"rule": None, "text": "Factura este anulata; nu se "
                                                        "transmite in e-Factura.", "severity": "E"}])
            return
        buyer = model.buyer
        try:
            xml = build_ubl(model)
            extern = resolve_buyer(buyer).address.country != "RO"
        except UblError as exc:
            self.move(snap, QUEUED, INVALID, validation="failed",
                      messages=[{"rule": "UBL", "text": str(exc), "severity": "E"}])
            return
        standard = "CN" if b"CreditNote-2" in xml[:400] else "UBL"
        endpoint = "uploadb2c" if is_individual(buyer) else "upload"
        fields: dict[str, Any] = {"xml": xml, "xml_sha256": archive.sha256(xml), "standard": standard,
                                  "endpoint": endpoint, "extern": extern, "last_error": None}
        try:
            report = default_validator(self.settings.data_dir).validate(xml)
        except RulesNotInstalled:
            fields["validation"] = "skipped"
            self.move(snap, QUEUED, VALIDATED, data={"validation": "skipped: ANAF's rules are not installed "
                                                     "(punte rules install)", "sha256": fields["xml_sha256"]},
                      **fields)
            return
        messages = [{"rule": f.rule_id, "text": f.text, "severity": "E" if f.flag == "fatal" else "W",
                     "location": f.location} for f in report.findings]
        if not report.ok:
            self.move(snap, QUEUED, INVALID, validation="failed", messages=messages, **{
                k: v for k, v in fields.items() if k != "last_error"},
                data={"rules": sorted(report.rule_ids())})
            return
        self.move(snap, QUEUED, VALIDATED, validation="passed", messages=messages,
                  data={"validation": "passed", "sha256": fields["xml_sha256"]}, **fields)

    # -- validated: upload -------------------------------------------------------------------------
    def step_validated(self, snap: Snapshot) -> None:
        with self.db.session() as session:
            status = session.scalar(select(Document.status).where(Document.id == snap.document_id))
        if status is None:
            return
        if status == "cancelled":
            self.move(snap, VALIDATED, INVALID, messages=[{"rule": None, "text": "Factura a fost anulata inainte "
                                                           "de transmitere.", "severity": "E"}])
            return
        assert snap.xml is not None
        client = self.client(snap)
        self.move(snap, VALIDATED, UPLOADING, uploading_at=datetime.now(UTC), last_error=None,
                  data={"endpoint": snap.endpoint, "sha256": snap.xml_sha256})
        try:
            result = client.upload(snap.xml, snap.cif, standard=snap.standard or "UBL", extern=snap.extern,
                                   b2c=snap.endpoint == "uploadb2c")
        except AnafUnknownOutcome as exc:
            self.move(snap, UPLOADING, UNKNOWN, last_error=exc.message, data={"reason": exc.message})
            raise Retry(exc.message, after=self.settings.anaf_poll_seconds) from exc
        except AnafDuplicateUpload as exc:
            self.move(snap, UPLOADING, UPLOADED, action="duplicate_reconciled", upload_index=exc.previous_index,
                      uploaded_at=datetime.now(UTC), data={"answer": exc.message})
            return
        except AnafUploadRejected as exc:
            self.move(snap, UPLOADING, NOK, messages=findings_of(exc.errors), last_error=exc.message,
                      data={"reason": "upload refused", "messages": exc.errors})
            return
        except AnafUnauthorized as exc:
            self.move(snap, UPLOADING, VALIDATED, action="upload_refused", last_error=exc.message,
                      data={"reason": exc.message})
            raise self.unauthorized(snap, exc) from exc
        except AnafTransientError as exc:  # not sent (429, no connection): back to validated
            self.move(snap, UPLOADING, VALIDATED, action="upload_retry", last_error=exc.message,
                      data={"reason": exc.message})
            raise Retry(exc.message, after=exc.retry_after) from exc
        except AnafPermanentError as exc:
            self.move(snap, UPLOADING, NOK, messages=[{"rule": None, "text": exc.message, "severity": "E"}],
                      last_error=exc.message, data={"reason": exc.message})
            return
        # The index first, in its own transaction, before anything else.
        self.move(snap, UPLOADING, UPLOADED, upload_index=result.index, uploaded_at=datetime.now(UTC),
                  data={"date_response": result.date_response})
        raise Retry(f"uploaded as {result.index}; waiting for ANAF", after=self.settings.anaf_poll_seconds)

    # -- uploading found at the start of a run: the previous worker died mid-upload ------------------
    def step_uploading(self, snap: Snapshot) -> None:
        self.move(snap, UPLOADING, UNKNOWN, last_error="procesul s-a oprit in timpul incarcarii; raspunsul ANAF "
                  "nu a fost primit", data={"reason": "worker stopped during the upload"})

    # -- unknown: reconcile through the message list -----------------------------------------------
    def step_unknown(self, snap: Snapshot) -> None:
        client = self.client(snap)
        started = snap.uploading_at or datetime.now(UTC)
        end = datetime.now(UTC) - timedelta(seconds=1)
        with self.anaf_failures(snap, permanent_after=300, note_limit=False):
            found = self.find_in_spv(client, snap, started - RECONCILE_MARGIN, end)
        if found is not None:
            index, download_id, archive_id = found
            self.move(snap, UNKNOWN, UPLOADED, action="reconciled", upload_index=index, download_id=download_id,
                      anaf_state="ok", archive_id=archive_id, uploaded_at=started, last_error=None,
                      data={"found": "in the message list", "download_id": download_id})
            return
        waited = (datetime.now(UTC) - started).total_seconds()
        grace = self.settings.anaf_unknown_grace_seconds
        if waited < grace:
            self.note(snap, f"incarcarea fara raspuns nu apare (inca) in lista de mesaje ANAF; se cauta din nou "
                            f"(inca {grace - waited:.0f} s inainte de retrimitere)")
            raise Retry("not in the message list yet", after=min(max(self.poll_delay(snap.polls + 1), 1.0),
                                                                  max(grace - waited, 0.5)))
        self.move(snap, UNKNOWN, VALIDATED, action="not_found", last_error=None,
                  data={"reason": f"not in the message list {waited:.0f} s after the upload; sending again"})

    def find_in_spv(self, client: AnafClient, snap: Snapshot, start: datetime, end: datetime
                    ) -> tuple[str, str, int | None] | None:
        """The (index, download id, archive id) of the sent invoice whose content is this attempt's XML."""
        if end <= start:
            return None
        messages = [m for m in client.lista_mesaje_paginatie(snap.cif, start, end, filtru="T")
                    if m.is_sent_invoice and m.id_solicitare]
        if not messages:
            return None
        with self.db.session() as session:
            known = set(session.scalars(select(EfacturaAttempt.upload_index).where(
                EfacturaAttempt.environment == snap.environment,
                EfacturaAttempt.upload_index.in_([m.id_solicitare for m in messages]),
            )))
        our_key = _invoice_key(snap.xml or b"")
        for message in messages:
            if message.id_solicitare in known:
                continue
            data, archive_id = self.fetch_zip(client, snap, message.id, message.id_solicitare or "", mine=False)
            content = read_zip(data)
            if content.invoice_xml is None:
                continue
            if archive.sha256(content.invoice_xml) == snap.xml_sha256 or (
                our_key is not None and _invoice_key(content.invoice_xml) == our_key
            ):
                return message.id_solicitare or "", message.id, archive_id
        return None

    # -- uploaded: poll, download, archive -----------------------------------------------------------
    def step_uploaded(self, snap: Snapshot) -> None:
        if snap.download_id and snap.anaf_state:
            self.finish(snap)
            return
        assert snap.upload_index is not None
        client = self.client(snap)
        with self.anaf_failures(snap, permanent_after=self.settings.anaf_poll_max_seconds):
            answer = client.stare_mesaj(snap.upload_index)
        if answer.processing:
            polls = snap.polls + 1
            self.move(snap, UPLOADED, None, polls=polls, anaf_state=answer.stare, last_error=None)
            raise Retry("in prelucrare", after=self.poll_delay(polls))
        if answer.download_id:
            self.move(snap, UPLOADED, None, polls=snap.polls + 1, anaf_state=answer.stare,
                      download_id=answer.download_id, last_error=None)
            self.finish(self.load() or snap)
            return
        if answer.ok:  # accepted but without a download id: ANAF's answer is incomplete, ask again later
            self.note(snap, "ANAF a raspuns ok fara id_descarcare")
            raise Retry("ok without id_descarcare", after=self.poll_delay(snap.polls + 1), count=True)
        text = answer.stare + (": " + "; ".join(answer.errors) if answer.errors else "")
        self.move(snap, UPLOADED, NOK, polls=snap.polls + 1, anaf_state=answer.stare,
                  messages=[{"rule": None, "text": text, "severity": "E"}] + findings_of(list(answer.errors)),
                  data={"stare": answer.stare})

    def finish(self, snap: Snapshot) -> None:
        """Download (once), archive, and record ``ok`` or ``nok`` with ANAF's messages."""
        client = self.client(snap)
        assert snap.download_id is not None
        with self.anaf_failures(snap, permanent_after=600):
            data, archive_id = self.fetch_zip(client, snap, snap.download_id, snap.upload_index or "", mine=True)
        content = read_zip(data)
        accepted = (snap.anaf_state or "").strip().lower() == "ok"
        if accepted and content.invoice_xml is not None:
            self.move(snap, UPLOADED, OK, archive_id=archive_id, last_error=None,
                      data={"download_id": snap.download_id, "archive_id": archive_id,
                            "signature": content.signature_name})
            return
        findings = [f.as_dict() for f in content.errors] or [
            {"rule": None, "text": f"ANAF: {snap.anaf_state}", "severity": "E"}]
        duplicate = duplicate_of([f.text for f in content.errors])
        if duplicate is not None and duplicate[0] != snap.upload_index:
            # ANAF already holds this invoice under an earlier index: that one is ours.
            self.move(snap, UPLOADED, UPLOADED, action="duplicate_reconciled", upload_index=duplicate[0],
                      download_id=None, anaf_state=None, archive_id=None, polls=0,
                      data={"rejected_index": snap.upload_index, "rejected_archive_id": archive_id,
                            "answer": _text(content)})
            return
        self.move(snap, UPLOADED, NOK, archive_id=archive_id, messages=findings, last_error=None,
                  data={"download_id": snap.download_id, "archive_id": archive_id,
                        "rules": sorted({f["rule"] for f in findings if f.get("rule")})})

    def fetch_zip(self, client: AnafClient, snap: Snapshot, download_id: str, index: str, *, mine: bool
                  ) -> tuple[bytes, int]:
        """The ZIP of ``download_id`` from the archive, or downloaded once and archived."""
        with self.db.session() as session:
            row = session.scalar(select(EfacturaArchive).where(EfacturaArchive.environment == snap.environment,
                                                               EfacturaArchive.download_id == download_id))
            if row is not None:
                return archive.read(self.settings.data_dir, row.path, row.sha256), row.id
        name = f"{snap.label}_{index}_{download_id}" if mine else f"{index}_{download_id}"
        existing = archive.candidate_path(self.settings.data_dir, snap.cif, snap.issue_date if mine else date.today(),
                                          name)
        data: bytes | None = None
        if mine and existing.is_file():  # downloaded before a crash, not yet recorded
            data = existing.read_bytes()
            try:
                read_zip(data)
            except AnafPermanentError:
                data = None
        if data is None:
            data = client.descarcare(download_id)
        content = read_zip(data)
        day = snap.issue_date if mine else (_issue_day(content) or date.today())
        path, digest = archive.store(self.settings.data_dir, snap.cif, day, name, data)
        kind = "invoice" if content.invoice_xml is not None else "errors"
        with self.db.session(write=True) as session:
            try:
                with session.begin_nested():
                    row = EfacturaArchive(company_id=snap.company_id, environment=snap.environment,
                                          download_id=download_id, upload_index=index or None, kind=kind, path=path,
                                          sha256=digest, size=len(data), created_at=datetime.now(UTC))
                    session.add(row)
            except IntegrityError:
                row = session.scalar(select(EfacturaArchive).where(
                    EfacturaArchive.environment == snap.environment, EfacturaArchive.download_id == download_id))
                assert row is not None
            session.flush()
            return data, row.id


def _issue_day(content: AnafZip) -> date | None:
    key = _invoice_key(content.invoice_xml or b"")
    if key is None:
        return None
    try:
        return date.fromisoformat(key[1])
    except ValueError:
        return None


def _text(content: AnafZip) -> str:
    return "; ".join(str(f) for f in content.errors)


@handler(SUBMIT_JOB)
def run_submission(ctx: JobContext) -> None:
    """Advance one submission attempt (see :class:`SubmissionRun`)."""
    SubmissionRun(ctx).run()


# -- tokens ---------------------------------------------------------------------------------------------
@handler(REFRESH_JOB)
def refresh_job(ctx: JobContext) -> None:
    token_id = int(ctx.job.payload["token_id"])
    transport = ctx.services.get("anaf_oauth_transport", ctx.services.get("anaf_transport"))
    try:
        outcome = anaf_connection.refresh_token(ctx.db, ctx.settings, token_id, transport=transport,
                                                worker_id=ctx.worker_id)
    except OAuthTransientError as exc:
        raise Retry(exc.text, after=300) from exc
    except OAuthError as exc:
        raise Retry(exc.text, after=3600, count=True) from exc
    if outcome == "busy":
        raise Retry("another worker is refreshing this token", after=30)


@periodic("anaf.tokens", 600)
def check_tokens_task(db, settings, services) -> None:  # type: ignore[no-untyped-def]
    """Every 10 minutes: warn about expiring authorizations and queue the refreshes that are due."""
    from punte.store.models_anaf import AnafToken

    due = anaf_connection.check_tokens(db, settings)
    if not due:
        return
    with db.session(write=True) as session:
        for token_id in due:
            token = session.get(AnafToken, token_id)
            if token is None:
                continue
            queue.enqueue(session, REFRESH_JOB, {"token_id": token_id},
                          key=f"{token_id}:{token.access_expires_at.isoformat()}")


__all__ = ["REFRESH_JOB", "SUBMIT_JOB", "SubmissionRun", "check_tokens_task", "findings_of", "run_submission"]
