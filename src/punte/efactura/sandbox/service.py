"""The :class:`Sandbox`: ANAF's e-Factura API answered offline, from punte's database.

Every method that serves an ANAF call returns an :class:`~.formats.Answer` in ANAF's wire format;
the routes in :mod:`.routes` only read the request and send the answer. The remaining public
methods are the test and demo controls (also reachable under ``/anaf-sandbox/_admin/``).

Life of an upload: ``upload`` records the file (sync errors aside) as ``in prelucrare`` with a
due time ``processing_delay`` seconds later; the first sandbox call after that time (or
:meth:`Sandbox.process_pending`) processes it (:mod:`.processing`): ``ok`` or ``nok``, the
answer ZIP signed with the sandbox key, and the messages in the seller's (and buyer's) list.
Processing happens under a row lock, so concurrent callers and processes process a file once.
"""

from __future__ import annotations

import hashlib
import logging
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from punte.domain.identifiers import is_valid_cif
from punte.efactura.ubl_read import UblReadError, read_ubl
from punte.efactura.validator import Validator
from punte.store.db import Database
from punte.store.models_sandbox import AnafSandboxMessage, AnafSandboxUpload

from . import formats
from .clock import Clock, anaf_stamp, bucharest_day
from .faults import Faults, Holds
from .formats import Answer
from .limits import Limits, MinuteLimiter, count_call
from .oauth import OAuthServer, Principal
from .processing import DOWNLOAD_BASE, INDEX_BASE, SAFE_PARSER, RuleChecker, judge
from .signing import SandboxKeys, answer_zip
from .ubl_read import ROOTS, read_facts

log = logging.getLogger("punte.efactura.sandbox")

ENVIRONMENTS = ("prod", "test")
_PG_LOCK = 0x616E6166  # "anaf": serializes processing on PostgreSQL (duplicate detection needs it)


@dataclass(frozen=True)
class UploadRecord:
    """What the sandbox received, as tests see it (``sandbox.uploads()``)."""

    index_incarcare: int
    env: str
    kind: str  # upload | uploadb2c | injected
    cif: str
    standard: str
    body_sha256: str
    received_at: datetime
    stare: str
    id_descarcare: int | None
    token_subject: str | None
    client_id: str | None
    invoice_number: str | None
    issue_date: str | None
    seller_cif: str | None
    buyer_cif: str | None
    errors: tuple[str, ...]


def _record(row: AnafSandboxUpload) -> UploadRecord:
    return UploadRecord(
        index_incarcare=INDEX_BASE + row.id, env=row.env, kind=row.kind, cif=row.cif, standard=row.standard,
        body_sha256=row.body_sha256, received_at=row.received_at, stare=row.stare,
        id_descarcare=DOWNLOAD_BASE + row.id if row.stare in (formats.STARE_OK, formats.STARE_NOK) else None,
        token_subject=row.token_subject, client_id=row.client_id, invoice_number=row.invoice_number,
        issue_date=row.issue_date, seller_cif=row.seller_cif, buyer_cif=row.buyer_cif,
        errors=tuple(row.errors or ()),
    )


def _int(value: str | None) -> int | None:
    text_value = (value or "").strip()
    if not text_value or not text_value.lstrip("-").isdigit():
        return None
    return int(text_value)


def _xml_error(body: bytes) -> str | None:
    """Why ``body`` is not a well-formed XML document (worded like ANAF's Java parser), or None."""
    stripped = body.lstrip()
    if not stripped:
        return formats.NOT_VALID_XML.format(line=1, column=1, message="Premature end of file.")
    if not stripped.startswith(b"<") and not stripped.startswith(b"\xef\xbb\xbf<"):
        return formats.NOT_VALID_XML.format(line=1, column=1, message="Content is not allowed in prolog.")
    try:
        root = etree.fromstring(body, SAFE_PARSER)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 1, 1)
        return formats.NOT_VALID_XML.format(line=line, column=column, message=exc.msg)
    if root.getroottree().docinfo.doctype:
        return formats.NOT_VALID_XML.format(
            line=1, column=1,
            message='DOCTYPE is disallowed when the feature "http://apache.org/xml/features/disallow-doctype-decl" '
                    "set to true.",
        )
    return None


class Sandbox:
    """The offline ANAF. One per app (``app.state.anaf_sandbox``); safe to use from many threads.

    Tunables (plain attributes, changed by tests): ``limits`` (:class:`~.limits.Limits`),
    ``processing_delay`` (seconds), ``clock`` (:class:`~.clock.Clock`), ``oauth.code_lifetime``,
    ``oauth.access_token_lifetime``, ``oauth.refresh_token_lifetime``, ``rights``
    (certificate holder -> the CIFs it may act for; a holder not listed may act for any valid
    CIF), ``faults`` and ``holds`` (see :mod:`.faults`).
    """

    def __init__(self, db: Database, data_dir: Path, *, validator: Validator | None = None,
                 clock: Clock | None = None, processing_delay: float = 2.0) -> None:
        self.db = db
        self.data_dir = Path(data_dir)
        self.clock = clock or Clock()
        self.processing_delay = processing_delay
        self.limits = Limits()
        self.rules = RuleChecker(self.data_dir, validator)
        self.oauth = OAuthServer(db, self.clock, self.keys)
        self.rights: dict[str, set[str]] = {}
        self.faults = Faults()
        self.holds = Holds()
        self.minute = MinuteLimiter()
        self._keys: SandboxKeys | None = None

    # -- keys -----------------------------------------------------------------------------------

    def keys(self) -> SandboxKeys:
        """The signing key and certificate, created in ``data_dir/anaf-sandbox/`` on first use."""
        if self._keys is None:
            self._keys = SandboxKeys.load_or_create(self.data_dir)
        return self._keys

    def certificate_pem(self) -> bytes:
        return self.keys().certificate_pem

    def use_validator(self, validator: Validator | None) -> None:
        """Validate with this validator instead of the rules installed under ``data_dir``."""
        self.rules.validator = validator

    # -- authorization ----------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal | Answer:
        principal = self.oauth.principal(authorization)
        if principal is None:
            body = formats.bad_request("Token lipsa, invalid sau expirat", self.clock.now(), 401, "Unauthorized")
            return Answer.json(body, 401, {"WWW-Authenticate": 'Bearer realm="anaf-sandbox", error="invalid_token"'})
        return principal

    def may_act_for(self, principal: Principal, cif: str) -> bool:
        allowed = self.rights.get(principal.subject)
        if allowed is None:
            return cif.isdigit() and is_valid_cif(cif)
        return cif in allowed

    def serial(self, principal: Principal) -> str:
        """The serial number of the holder's certificate, as ANAF echoes it in message lists."""
        return hashlib.sha256(principal.subject.encode()).hexdigest()[:19].upper()

    def minute_check(self, caller: str) -> Answer | None:
        """None when the caller is under the per-minute limit, else ANAF's 429."""
        wait = self.minute.hit(caller, self.limits.per_minute)
        if wait is None:
            return None
        return self.too_many_requests(math.ceil(wait) or 1)

    def too_many_requests(self, seconds: int = 60) -> Answer:
        message = formats.MINUTE_LIMIT.format(limit=self.limits.per_minute, seconds=seconds)
        body = formats.bad_request(message, self.clock.now(), 429, "Too Many Requests")
        return Answer.json(body, 429, {"Retry-After": str(seconds)})

    # -- upload ---------------------------------------------------------------------------------

    def upload(self, env: str, kind: str, params: Mapping[str, str], body: bytes, principal: Principal,
               *, too_large: bool = False) -> Answer:
        """``upload`` / ``uploadb2c``: record the file and answer its ``index_incarcare``, or a sync error."""
        now = self.clock.now()
        for name in ("standard", "cif"):
            if not params.get(name):
                return Answer.json(formats.bad_request(formats.missing_parameter(name), now), 400)
        standard = params["standard"].strip().upper()
        cif = params["cif"].strip()
        if standard not in formats.STANDARDS:
            return Answer.xml(formats.upload_error(formats.BAD_STANDARD, now))
        if not cif.isdigit():
            return Answer.xml(formats.upload_error(formats.CIF_NOT_NUMBER.format(cif=cif), now))
        flags = {}
        for name in ("extern", "autofactura", "executare"):
            value = (params.get(name) or "").strip().upper()
            if value not in ("", "DA"):
                return Answer.xml(formats.upload_error(formats.BAD_FLAG.format(name=name), now))
            flags[name] = value == "DA"
        if not self.may_act_for(principal, cif):
            return Answer.xml(formats.upload_error(formats.NO_RIGHTS_CIF.format(cif=cif), now))
        if too_large or len(body) > self.limits.upload_max_bytes:
            mb = self.limits.upload_max_bytes // (1024 * 1024)
            return Answer.xml(formats.upload_error(formats.TOO_LARGE.format(mb=mb), now))
        problem = _xml_error(body)
        if problem:
            return Answer.xml(formats.upload_error(problem, now))
        facts = read_facts(etree.fromstring(body, SAFE_PARSER))
        with self.db.session(write=True) as session:
            if standard == "RASP":
                used = count_call(session, "rasp", cif, bucharest_day(now))
                if used > self.limits.rasp_per_cui:
                    session.rollback()
                    text_ = formats.RASP_LIMIT.format(limit=self.limits.rasp_per_cui, cif=cif)
                    return Answer.xml(formats.upload_error(text_, now))
            row = AnafSandboxUpload(
                env=env, kind=kind, standard=standard, cif=cif, body=body,
                body_sha256=hashlib.sha256(body).hexdigest(), invoice_number=facts.number,
                issue_date=facts.issue_date, seller_cif=facts.seller_cif, buyer_cif=facts.buyer_cif,
                token_subject=principal.subject, client_id=principal.client_id, received_at=now,
                due_at=now + timedelta(seconds=max(0.0, self.processing_delay)),
                stare=formats.STARE_PROCESSING, **flags,
            )
            session.add(row)
            session.flush()
            index = INDEX_BASE + row.id
        answer = Answer.xml(formats.upload_ok(index, now))
        answer.index_incarcare = index
        return answer

    # -- processing -----------------------------------------------------------------------------

    def process_pending(self, *, due_only: bool = False) -> int:
        """Process the files still ``in prelucrare`` (all of them, or only those due); how many."""
        now = self.clock.now()
        with self.db.session() as session:
            stmt = select(AnafSandboxUpload.id).where(AnafSandboxUpload.stare == formats.STARE_PROCESSING)
            if due_only:
                stmt = stmt.where(AnafSandboxUpload.due_at <= now)
            ids = list(session.execute(stmt.order_by(AnafSandboxUpload.id)).scalars())
        return sum(1 for upload_id in ids if self._process(upload_id))

    def _process(self, upload_id: int) -> bool:
        keys = self.keys()  # created (once) before the write transaction, not inside it
        with self.db.session(write=True) as session:
            if not self.db.is_sqlite:
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK})
            row = session.get(AnafSandboxUpload, upload_id, with_for_update=not self.db.is_sqlite)
            if row is None or row.stare != formats.STARE_PROCESSING:
                return False
            now = self.clock.now()
            verdict = judge(session, row, self.rules)
            row.stare, row.errors, row.processed_at = verdict.stare, verdict.errors or None, now
            if verdict.stare == formats.STARE_REJECTED:
                return True
            index = INDEX_BASE + row.id
            if verdict.stare == formats.STARE_NOK:
                document = formats.error_document(index, row.cif, verdict.errors)
                self._message(session, row, row.cif, formats.TIP_ERRORS,
                              formats.DETAILS_ERRORS.format(index=index), now)
            else:
                document = row.body
                self._deliver(session, row, index, now)
            row.result_zip = answer_zip(str(index), document, keys, now)
            return True

    def _deliver(self, session: Session, row: AnafSandboxUpload, index: int, now: datetime) -> None:
        """The messages of an accepted file: sent for the uploader, received for the other party."""
        if row.standard == "RASP":
            self._message(session, row, row.cif, formats.TIP_BUYER_SENT,
                          formats.DETAILS_RASP.format(index=index, cif=row.cif), now)
            return
        seller, buyer = row.seller_cif or row.cif, row.buyer_cif or "-"
        details = formats.DETAILS_INVOICE.format(index=index, seller=seller, buyer=buyer)
        self._message(session, row, row.cif, formats.TIP_SENT, details, now)
        other = seller if row.autofactura else buyer
        if row.kind != "uploadb2c" and other != row.cif and other.isdigit() and is_valid_cif(other):
            self._message(session, row, other, formats.TIP_RECEIVED, details, now)

    @staticmethod
    def _message(session: Session, row: AnafSandboxUpload, cif: str, tip: str, details: str, now: datetime) -> None:
        session.add(AnafSandboxMessage(env=row.env, cif=cif, tip=tip, upload_id=row.id, detalii=details,
                                       created_at=now))

    def _process_due(self) -> None:
        now = self.clock.now()
        with self.db.session() as session:
            due = session.execute(
                select(AnafSandboxUpload.id).where(AnafSandboxUpload.stare == formats.STARE_PROCESSING,
                                                   AnafSandboxUpload.due_at <= now).limit(1)
            ).first()
        if due is not None:
            self.process_pending(due_only=True)

    # -- stareMesaj ---------------------------------------------------------------------------

    def status(self, env: str, params: Mapping[str, str], principal: Principal) -> Answer:
        now = self.clock.now()
        raw = params.get("id_incarcare")
        if not raw:
            return Answer.json(formats.bad_request(formats.missing_parameter("id_incarcare"), now), 400)
        index = _int(raw)
        if index is None:
            return Answer.xml(formats.status_error(formats.INDEX_NOT_INTEGER.format(value=raw)))
        self._process_due()
        with self.db.session(write=True) as session:
            row = session.get(AnafSandboxUpload, index - INDEX_BASE) if index > INDEX_BASE else None
            if row is None or row.env != env:
                return Answer.xml(formats.status_error(formats.NO_SUCH_UPLOAD.format(index=index)))
            if not self.may_act_for(principal, row.cif):
                return Answer.xml(formats.status_error(formats.NO_RIGHTS_UPLOAD.format(index=index)))
            if count_call(session, "stare", str(index), bucharest_day(now)) > self.limits.status_per_message:
                return Answer.xml(formats.status_error(
                    formats.STATUS_LIMIT.format(limit=self.limits.status_per_message)))
            download = DOWNLOAD_BASE + row.id if row.stare in (formats.STARE_OK, formats.STARE_NOK) else None
            return Answer.xml(formats.status_answer(row.stare, download))

    # -- descarcare ---------------------------------------------------------------------------

    def download(self, env: str, params: Mapping[str, str], principal: Principal) -> Answer:
        now = self.clock.now()
        raw = params.get("id")
        if not raw:
            return Answer.json(formats.bad_request(formats.missing_parameter("id"), now), 400)
        download_id = _int(raw)
        if download_id is None:
            return self._download_error(formats.DOWNLOAD_NOT_INTEGER.format(value=raw))
        self._process_due()
        with self.db.session(write=True) as session:
            row = session.get(AnafSandboxUpload, download_id - DOWNLOAD_BASE) if download_id > DOWNLOAD_BASE else None
            if row is None or row.env != env or row.result_zip is None:
                return self._download_error(formats.NO_SUCH_DOWNLOAD.format(id=download_id))
            owners = {row.cif} | set(session.execute(
                select(AnafSandboxMessage.cif).where(AnafSandboxMessage.upload_id == row.id)).scalars())
            if not any(self.may_act_for(principal, cif) for cif in owners):
                return self._download_error(formats.NO_RIGHTS_DOWNLOAD)
            if row.processed_at and now - row.processed_at > timedelta(days=self.limits.retention_days):
                return self._download_error(formats.DOWNLOAD_EXPIRED)
            if count_call(session, "descarcare", str(download_id), bucharest_day(now)) > \
                    self.limits.downloads_per_message:
                return self._download_error(
                    formats.DOWNLOAD_LIMIT.format(limit=self.limits.downloads_per_message, id=download_id))
            return Answer(row.result_zip, 200, "application/zip",
                          {"Content-Disposition": f'attachment; filename="{download_id}.zip"'})

    @staticmethod
    def _download_error(message: str) -> Answer:
        return Answer.json(formats.list_error(message, formats.TITLE_DOWNLOAD))

    # -- message lists ------------------------------------------------------------------------

    def _list_checks(self, params: Mapping[str, str], principal: Principal) -> tuple[str, str | None] | Answer:
        cif = params["cif"].strip()
        if not cif.isdigit():
            return Answer.json(formats.list_error(formats.CIF_NOT_NUMBER.format(cif=cif)))
        filtru = (params.get("filtru") or "").strip().upper() or None
        if filtru is not None and filtru not in formats.FILTERS:
            return Answer.json(formats.list_error(formats.BAD_FILTER))
        if not self.may_act_for(principal, cif):
            return Answer.json(formats.list_error(formats.NO_RIGHTS_CIF.format(cif=cif)))
        return cif, filtru

    def _messages(self, session: Session, env: str, cif: str, filtru: str | None, start: datetime,
                  end: datetime) -> Any:
        stmt = select(AnafSandboxMessage).where(
            AnafSandboxMessage.env == env, AnafSandboxMessage.cif == cif, AnafSandboxMessage.created_at >= start,
            AnafSandboxMessage.created_at <= end)
        if filtru is not None:
            stmt = stmt.where(AnafSandboxMessage.tip.startswith(formats.FILTERS[filtru]))
        return stmt

    @staticmethod
    def _wire(message: AnafSandboxMessage) -> dict[str, str]:
        return {"data_creare": anaf_stamp(message.created_at), "cif": message.cif,
                "id_solicitare": str(INDEX_BASE + message.upload_id), "detalii": message.detalii,
                "tip": message.tip, "id": str(DOWNLOAD_BASE + message.upload_id)}

    def messages(self, env: str, params: Mapping[str, str], principal: Principal) -> Answer:
        """``listaMesajeFactura``: the messages of the last ``zile`` days."""
        now = self.clock.now()
        for name in ("zile", "cif"):
            if not params.get(name):
                return Answer.json(formats.bad_request(formats.missing_parameter(name), now), 400)
        checked = self._list_checks(params, principal)
        if isinstance(checked, Answer):
            return checked
        cif, filtru = checked
        days = _int(params["zile"])
        if days is None:
            return Answer.json(formats.list_error(formats.DAYS_NOT_INTEGER.format(value=params["zile"])))
        if days > 60:
            return Answer.json(formats.list_error(formats.DAYS_TOO_MANY))
        if days < 1:
            return Answer.json(formats.list_error(formats.DAYS_TOO_FEW))
        self._process_due()
        with self.db.session(write=True) as session:
            if count_call(session, "lista", cif, bucharest_day(now)) > self.limits.simple_lists_per_cui:
                return Answer.json(formats.list_error(
                    formats.LIST_LIMIT.format(limit=self.limits.simple_lists_per_cui, cif=cif)))
            stmt = self._messages(session, env, cif, filtru, now - timedelta(days=days), now)
            total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
            if total > self.limits.simple_list_max:
                return Answer.json(formats.list_error(formats.TOO_MANY_MESSAGES.format(
                    limit=self.limits.simple_list_max)))
            if total == 0:
                return Answer.json(formats.list_error(formats.NO_MESSAGES_DAYS.format(zile=days)))
            rows = session.execute(stmt.order_by(AnafSandboxMessage.id.desc())).scalars().all()
            return Answer.json({"mesaje": [self._wire(m) for m in rows], "serial": self.serial(principal),
                                "cui": cif, "titlu": f"Lista Mesaje disponibile din ultimele {days} zile"})

    def messages_paged(self, env: str, params: Mapping[str, str], principal: Principal) -> Answer:
        """``listaMesajePaginatieFactura``: messages between two unix-millisecond instants, 500 a page."""
        now = self.clock.now()
        for name in ("startTime", "endTime", "cif", "pagina"):
            if not params.get(name):
                return Answer.json(formats.bad_request(formats.missing_parameter(name), now), 400)
        checked = self._list_checks(params, principal)
        if isinstance(checked, Answer):
            return checked
        cif, filtru = checked
        instants = {}
        for name in ("startTime", "endTime"):
            value = _int(params[name])
            if value is None:
                return Answer.json(formats.list_error(formats.TIME_NOT_NUMBER.format(name=name, value=params[name])))
            instants[name] = datetime.fromtimestamp(value / 1000, UTC)
        page = _int(params["pagina"])
        if page is None or page < 1:
            return Answer.json(formats.list_error(formats.PAGE_NOT_NUMBER.format(value=params["pagina"])))
        start, end = instants["startTime"], instants["endTime"]
        if start < now - timedelta(days=self.limits.retention_days):
            return Answer.json(formats.list_error(formats.START_TOO_OLD))
        if end > now:
            return Answer.json(formats.list_error(formats.END_IN_FUTURE))
        if start > end:
            return Answer.json(formats.list_error(formats.START_AFTER_END))
        self._process_due()
        with self.db.session(write=True) as session:
            if count_call(session, "lista_paginata", cif, bucharest_day(now)) > self.limits.paged_lists_per_cui:
                return Answer.json(formats.list_error(
                    formats.PAGED_LIST_LIMIT.format(limit=self.limits.paged_lists_per_cui, cif=cif)))
            stmt = self._messages(session, env, cif, filtru, start, end)
            total = session.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
            if total == 0:
                return Answer.json(formats.list_error(formats.NO_MESSAGES_INTERVAL))
            size = self.limits.page_size
            pages = math.ceil(total / size)
            if page > pages:
                return Answer.json(formats.list_error(formats.PAGE_TOO_HIGH.format(page=page, pages=pages)))
            rows = session.execute(
                stmt.order_by(AnafSandboxMessage.id.desc()).offset((page - 1) * size).limit(size)).scalars().all()
            return Answer.json({
                "mesaje": [self._wire(m) for m in rows],
                "numar_inregistrari_in_pagina": len(rows),
                "numar_total_inregistrari_per_pagina": size,
                "numar_total_inregistrari": total,
                "numar_total_pagini": pages,
                "index_pagina_curenta": page,
                "serial": self.serial(principal),
                "cui": cif,
                "titlu": f"Lista Mesaje disponibile din intervalul {params['startTime']} - {params['endTime']}",
            })

    # -- validare / transformare (no authentication, production only) ---------------------------

    def _validation_messages(self, standard: str, body: bytes) -> list[str]:
        problem = _xml_error(body)
        if problem:
            return [problem]
        root = etree.fromstring(body, SAFE_PARSER)
        expected = "UBL" if standard == "FACT1" else "CN"
        if ROOTS.get(root.tag) != expected:
            kind = "factura (Invoice)" if standard == "FACT1" else "nota de creditare (CreditNote)"
            return [f"Fisierul transmis nu este o {kind} UBL 2.1, cum cere standardul {standard}"]
        return self.rules.check(body, expected)

    def _bad_validation_call(self, standard: str, body: bytes, too_large: bool) -> Answer | None:
        if standard not in ("FACT1", "FCN"):
            return self._nok([formats.BAD_VALIDATION_STANDARD])
        if too_large or len(body) > self.limits.validation_max_bytes:
            mb = self.limits.validation_max_bytes // (1024 * 1024)
            return self._nok([formats.TOO_LARGE.format(mb=mb)])
        return None

    @staticmethod
    def _nok(messages: list[str]) -> Answer:
        return Answer.json({"stare": "nok", "Messages": [{"message": m} for m in messages],
                            "trace_id": str(uuid.uuid4())})

    def validate(self, standard: str, body: bytes, *, too_large: bool = False) -> Answer:
        """``validare/FACT1|FCN``: ANAF's verdict on a document, without sending it."""
        refused = self._bad_validation_call(standard, body, too_large)
        if refused is not None:
            return refused
        messages = self._validation_messages(standard, body)
        if messages:
            return self._nok(messages)
        return Answer.json({"stare": "ok", "trace_id": str(uuid.uuid4())})

    def transform(self, standard: str, body: bytes, *, skip_validation: bool, too_large: bool = False) -> Answer:
        """``transformare/FACT1|FCN[/DA]``: the document as a PDF (drawn by punte's renderer)."""
        from punte.render.pdf import FontNotFoundError, render_pdf

        refused = self._bad_validation_call(standard, body, too_large)
        if refused is not None:
            return refused
        if skip_validation:
            problem = _xml_error(body)
            messages = [problem] if problem else []
        else:
            messages = self._validation_messages(standard, body)
        if messages:
            return self._nok(messages)
        try:
            document = read_ubl(body).to_document()
            pdf = render_pdf(document)
        except UblReadError as exc:
            return self._nok([f"Fisierul nu poate fi transformat in PDF: {exc}"])
        except FontNotFoundError as exc:
            log.error("ANAF sandbox: transformare cannot draw PDFs: %s", exc)
            return self._nok([f"Serviciul de transformare nu este disponibil: {exc}"])
        return Answer(pdf, 200, "application/pdf")

    # -- test and demo controls -----------------------------------------------------------------

    def uploads(self, *, cif: str | None = None, env: str | None = None, number: str | None = None,
                kind: str | None = None) -> list[UploadRecord]:
        """What the sandbox received, oldest first (filtered by uploader CIF, environment, invoice number)."""
        with self.db.session() as session:
            stmt = select(AnafSandboxUpload).order_by(AnafSandboxUpload.id)
            if cif is not None:
                stmt = stmt.where(AnafSandboxUpload.cif == cif)
            if env is not None:
                stmt = stmt.where(AnafSandboxUpload.env == env)
            if number is not None:
                stmt = stmt.where(AnafSandboxUpload.invoice_number == number)
            if kind is not None:
                stmt = stmt.where(AnafSandboxUpload.kind == kind)
            return [_record(row) for row in session.execute(stmt).scalars()]

    def upload_record(self, index_incarcare: int) -> UploadRecord | None:
        with self.db.session() as session:
            row = session.get(AnafSandboxUpload, index_incarcare - INDEX_BASE)
            return _record(row) if row is not None else None

    def received_body(self, index_incarcare: int) -> bytes | None:
        """The bytes received for an upload, exactly as they arrived."""
        with self.db.session() as session:
            row = session.get(AnafSandboxUpload, index_incarcare - INDEX_BASE)
            return row.body if row is not None else None

    def set_processing_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the processing delay cannot be negative")
        self.processing_delay = seconds

    def grant(self, subject: str, cifs: set[str] | None) -> None:
        """Let certificate holder ``subject`` act only for ``cifs`` (None: for any valid CIF again)."""
        if cifs is None:
            self.rights.pop(subject, None)
        else:
            self.rights[subject] = {c.strip() for c in cifs}

    def inject_invoice(self, buyer_cif: str, *, seller_cif: str | None = None, xml: bytes | None = None,
                       env: str = "prod", number: str | None = None, issue_date: date | None = None,
                       amount: Decimal = Decimal("100.00"), seller_name: str = "Furnizor Sandbox SRL",
                       buyer_name: str = "Client Sandbox SRL") -> UploadRecord:
        """An invoice from ``seller_cif`` to ``buyer_cif``, received and processed at once.

        ``xml`` is the UBL to deliver; without it a one-line invoice (21% VAT on ``amount``) is
        written by punte's UBL writer. The buyer finds it in its list as ``FACTURA PRIMITA``.
        """
        if env not in ENVIRONMENTS:
            raise ValueError(f"env must be one of {ENVIRONMENTS}")
        buyer = buyer_cif.upper().removeprefix("RO").strip()
        if xml is None:
            seller = (seller_cif or ("18547290" if buyer == "14399840" else "14399840")).upper().removeprefix("RO")
            xml = _demo_invoice(seller, buyer, number or f"SBX{uuid.uuid4().int % 10**8:08d}",
                                issue_date or bucharest_day(self.clock.now()), amount, seller_name, buyer_name)
        problem = _xml_error(xml)
        if problem:
            raise ValueError(problem)
        facts = read_facts(etree.fromstring(xml, SAFE_PARSER))
        if facts.standard not in ("UBL", "CN"):
            raise ValueError("the injected document must be a UBL Invoice or CreditNote")
        now = self.clock.now()
        with self.db.session(write=True) as session:
            row = AnafSandboxUpload(
                env=env, kind="injected", standard=facts.standard, cif=facts.seller_cif or seller_cif or "-",
                body=xml, body_sha256=hashlib.sha256(xml).hexdigest(), invoice_number=facts.number,
                issue_date=facts.issue_date, seller_cif=facts.seller_cif, buyer_cif=facts.buyer_cif or buyer,
                received_at=now, due_at=now, stare=formats.STARE_PROCESSING, extern=False, autofactura=False,
                executare=False,
            )
            session.add(row)
            session.flush()
            upload_id = row.id
        self._process(upload_id)
        record = self.upload_record(INDEX_BASE + upload_id)
        assert record is not None
        return record

    def reset_limits(self) -> None:
        """Forget today's counters and the per-minute window (a new day for every limit)."""
        from sqlalchemy import delete

        from punte.store.models_sandbox import AnafSandboxCounter

        with self.db.session(write=True) as session:
            session.execute(delete(AnafSandboxCounter))
        self.minute.clear()

    def purge(self, older_than_days: int | None = None) -> int:
        """Delete received files (and their messages) older than the retention period; how many."""
        cutoff = self.clock.now() - timedelta(days=older_than_days or self.limits.retention_days)
        from sqlalchemy import delete

        with self.db.session(write=True) as session:
            ids = list(session.execute(select(AnafSandboxUpload.id).where(
                or_(AnafSandboxUpload.processed_at < cutoff, AnafSandboxUpload.received_at < cutoff))).scalars())
            if ids:
                session.execute(delete(AnafSandboxMessage).where(AnafSandboxMessage.upload_id.in_(ids)))
                session.execute(delete(AnafSandboxUpload).where(AnafSandboxUpload.id.in_(ids)))
            return len(ids)


def _demo_invoice(seller: str, buyer: str, number: str, issue: date, amount: Decimal, seller_name: str,
                  buyer_name: str) -> bytes:
    """A small valid CIUS-RO invoice written by punte's UBL writer."""
    from punte.domain.documents import INVOICE, IssuedDocument, Line, Party, Totals, VatSubtotal
    from punte.domain.money import CENT
    from punte.efactura.ubl import build_ubl

    net = amount.quantize(CENT)
    vat = (net * Decimal("0.21")).quantize(CENT)
    series = "".join(c for c in number if c.isalpha()) or "SBX"
    digits = number[len(series):] if number.startswith(series) else number
    return build_ubl(IssuedDocument(
        id=0, kind=INVOICE, series=series, number=digits, issue_date=issue, currency="RON",
        seller=Party(name=seller_name, cif=f"RO{seller}", address="Str. Exemplului 1", city="Cluj-Napoca",
                     county="Cluj", is_tax_payer=True),
        buyer=Party(name=buyer_name, cif=f"RO{buyer}", address="Str. Clientului 2", city="Brasov", county="Brasov",
                    is_tax_payer=True),
        lines=[Line(position=1, name="Servicii", quantity=Decimal(1), unit_price=net, net_amount=net, unit="buc",
                    vat_name="Normala", vat_percentage=Decimal(21), vat_category="S")],
        totals=Totals(line_total=net, allowance_total=Decimal(0), net_total=net, vat_total=vat, gross_total=net + vat,
                      vat_breakdown=(VatSubtotal("S", Decimal(21), net, vat, "Normala"),)),
        seller_vat_payer=True,
    ))
