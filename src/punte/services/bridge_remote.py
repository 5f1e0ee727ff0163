"""The SmartBill target: a payment's invoice (and whole storno) issued in the company's SmartBill account.

The bridge commits the intent first (the request on the payment row, status ``sending``, a ``bridge.remote``
job keyed by payment and action); the job calls SmartBill through punte's client with an
``Idempotency-Key`` per payment. Before sending, the series' next number is noted; when the answer is lost
(a timeout after the request left), the next run looks that number up and adopts the invoice when its total
matches, and sends again (same key: servers that honour it answer the first result) only when it is not
there. A 4xx answer fails the payment with SmartBill's text and notifies the company; 5xx, rate limits and
network failures are retried by the worker with back-off.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from punte.config import Settings
from punte.crypto import SecretBox
from punte.store.db import Database
from punte.store.models import Company
from punte.store.models_bridge import BridgePayment, BridgeStorno

from . import events
from .bridge import ZERO, _notify, _now, _settle_siblings, _storno_refunds
from .bridge_config import decrypted, get_config
from .bridge_sale import Problem


def run_remote(db: Database, settings: Settings, payment_id: int, action: str,
               services: Mapping[str, Any] | None = None) -> str:
    """Issue (or storno) a payment's invoice in the company's SmartBill account; safe to run again.

    The intent (the request, the Idempotency-Key) was committed before this runs. Before sending, the
    series' next number is noted; after a lost answer the next run looks that number up and adopts the
    invoice when its total matches, and sends again (same Idempotency-Key) only when it is not there.
    """
    from punte.smartbill.errors import NotFoundError, RateLimitError, ServerError, SmartBillApiError, TransportError

    from .bridge_clients import Unavailable, smartbill_client

    services = dict(services or {})
    box = SecretBox(settings.resolved_secret_key())
    with db.session() as session:
        payment = session.get(BridgePayment, payment_id)
        if payment is None:
            return "missing"
        company = session.get(Company, payment.company_id)
        assert company is not None
        config = get_config(session, company, payment.provider)
        assert config is not None
        token = decrypted(box, config.smartbill_token_enc) or ""
        url, username, cif = config.smartbill_url or "", config.smartbill_username or "", config.smartbill_cif or ""
        request = dict(payment.remote_request or {})
        state = (payment.remote_series, payment.remote_number, payment.remote_expected_number, payment.amount,
                 payment.refunded)
    remote_series, remote_number, expected, total, refunded = state
    key = f"punte-bridge-{company.cif}-{payment_id}"
    try:
        with smartbill_client(username, token, url, services) as sb:
            if action == "storno":
                if not remote_number or refunded:
                    return "nothing"
                try:
                    answer = sb.invoices.reverse(cif, remote_series or "", remote_number,
                                                 idempotency_key=f"{key}-storno")
                    series, number = answer.series, answer.number
                except SmartBillApiError as exc:
                    if "deja stornata" not in exc.error_text:
                        raise
                    series, number = None, None  # done before, its answer lost: nothing more to do
                _remote_storno_done(db, payment_id, series, number, config.issuer)
                return "stornoed"
            if remote_number:
                return "done"
            series_name = str(request.get("seriesName") or "")
            if expected is not None:
                try:
                    status = sb.invoices.payment_status(cif, series_name, expected)
                except (NotFoundError, SmartBillApiError) as exc:
                    if isinstance(exc, (RateLimitError, ServerError)):
                        raise
                    status = None
                if status is not None and total is not None and status.invoiceTotalAmount == total:
                    _remote_done(db, payment_id, series_name, expected, config.issuer, reconciled=True)
                    return "reconciled"
            else:
                listed = sb.series.list(cif, "f")
                found = next((s for s in listed.list if s.name == series_name), None)
                if found is not None:
                    _note_expected(db, payment_id, found.nextNumber)
            answer = sb.invoices.create(request, idempotency_key=key)
            _remote_done(db, payment_id, answer.series or series_name, answer.number, config.issuer,
                         reconciled=False)
            return "issued"
    except (TransportError, ServerError, RateLimitError) as exc:
        raise Unavailable(f"SmartBill: {exc}") from exc
    except SmartBillApiError as exc:
        _remote_failed(db, payment_id, action, exc.error_text or str(exc))
        return "failed"


def _note_expected(db: Database, payment_id: int, number: str) -> None:
    with db.session(write=True) as session:
        payment = session.get(BridgePayment, payment_id)
        if payment is not None:
            payment.remote_expected_number = number


def _remote_done(db: Database, payment_id: int, series: str, number: str, actor: str, *, reconciled: bool) -> None:
    with db.session(write=True) as session:
        payment = session.get(BridgePayment, payment_id)
        assert payment is not None
        if payment.remote_number:
            return
        payment.remote_series, payment.remote_number = series, number
        payment.status = "issued"
        payment.issued_at = _now()
        payment.last_error = None
        events.record(session, company_id=payment.company_id, entity="bridge_payment", entity_id=payment.id,
                      action="invoiced_remote", actor=actor,
                      data={"series": series, "number": number, "reconciled": reconciled})
        _settle_siblings(session, payment, f"facturata in SmartBill: {series}{number}")
        company = session.get(Company, payment.company_id)
        config = get_config(session, company, payment.provider) if company else None
        if company is not None and config is not None:
            _storno_refunds(session, company, config, payment, None)


def _remote_storno_done(db: Database, payment_id: int, series: str | None, number: str | None, actor: str) -> None:
    with db.session(write=True) as session:
        payment = session.get(BridgePayment, payment_id)
        assert payment is not None
        amount = payment.amount or ZERO
        session.add(BridgeStorno(payment_id=payment.id, remote_series=series, remote_number=number, amount=amount))
        payment.refunded = amount
        events.record(session, company_id=payment.company_id, entity="bridge_payment", entity_id=payment.id,
                      action="stornoed_remote", actor=actor, data={"series": series, "number": number})


def _remote_failed(db: Database, payment_id: int, action: str, text: str) -> None:
    with db.session(write=True) as session:
        payment = session.get(BridgePayment, payment_id)
        assert payment is not None
        company = session.get(Company, payment.company_id)
        config = get_config(session, company, payment.provider) if company else None
        problem = Problem("smartbill", "invalid", text)
        if action == "invoice":
            payment.status = "failed"
            payment.missing = [problem.as_dict()]
        payment.last_error = str(problem)
        events.record(session, company_id=payment.company_id, entity="bridge_payment", entity_id=payment.id,
                      action=f"remote_{action}_failed", actor="bridge", data={"problem": problem.as_dict()})
        if company is not None and config is not None:
            _notify(session, company, config, payment, [problem], subject="SmartBill a refuzat documentul")


__all__ = ["run_remote"]
