"""The exactly-once guarantee under load: many payments, every event delivered three times, shuffled, from
eight concurrent senders over real HTTP to punte's API in its own process, while workers process the inbox
(two on PostgreSQL; one on SQLite, whose writes are serialized anyway: a second one only adds lock waits).

Result: exactly one invoice per payment, numbered without gaps, and exactly one storno per refunded
payment (a whole one for full refunds, a partial one for partial refunds). SQLite runs the full 1,000
payments in the normal suite; PostgreSQL runs fewer (its commits are slower on the shared test machine).
"""

from __future__ import annotations

import json
import queue as stdqueue
import random
import threading
import time
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from punte.config import Settings
from punte.store.db import Database
from punte.store.models import Document, Series
from punte.store.models_bridge import BridgeInbox, BridgePayment, BridgeStorno
from punte.worker.runner import Worker
from tests.conftest import Account

from .bridge_support import (
    body_of,
    charge,
    checkout_session,
    event,
    payment_intent,
    refund,
    serving_process,
    stripe_headers,
)
from .test_bridge_stripe import CIF, setup_bridge

SENDERS = 8
COPIES = 3


def _payment_events(n: int, rng: random.Random) -> tuple[list[dict[str, Any]], str | None]:
    """The events of payment ``n``: its Checkout Session and PaymentIntent, every fourth also its charge;
    every tenth is refunded (whole or in part), told by ``refund.created`` and ``charge.refunded``."""
    pi, ch = f"pi_stress_{n:05d}", f"ch_stress_{n:05d}"
    qty = 1 + n % 3
    unit = 1000 + (n % 50) * 37  # minor units, VAT included
    amount = unit * qty
    item = f"SKU{n % 17}, Produs {n % 17}, {qty}, {Decimal(amount).scaleb(-2)}"
    payloads = [
        event("checkout.session.completed", checkout_session(pi=pi, amount=amount, metadata={"Order Item #1": item})),
        event("payment_intent.succeeded", payment_intent(pi=pi, amount=amount, description=f"Comanda {n}")),
    ]
    if n % 4 == 0:
        payloads.append(event("charge.succeeded", charge(pi=pi, charge_id=ch, amount=amount)))
    kind = None
    if n % 10 == 3:
        kind = "whole" if n % 20 == 3 else "part"
        refunded = amount if kind == "whole" else amount // 2
        re = refund(pi=pi, charge_id=ch, amount=refunded, refund_id=f"re_stress_{n:05d}")
        payloads += [
            event("refund.created", re),
            event("charge.refunded", charge(pi=pi, charge_id=ch, amount=amount, refunded=refunded, refunds=[re])),
        ]
    return payloads, kind


def test_every_payment_makes_exactly_one_invoice_under_concurrent_repeated_deliveries(
    db: Database, settings: Settings, account: Account,
) -> None:
    payments = 1000 if db.is_sqlite else 150
    setup_bridge(db, settings)
    rng = random.Random(20250331)
    deliveries: list[bytes] = []
    refunded: dict[str, str] = {}
    for n in range(payments):
        payloads, kind = _payment_events(n, rng)
        if kind:
            refunded[f"pi_stress_{n:05d}"] = kind
        deliveries += [body_of(p) for p in payloads] * COPIES
    rng.shuffle(deliveries)
    work: stdqueue.Queue[bytes] = stdqueue.Queue()
    for body in deliveries:
        work.put(body)

    workers = [Worker(db, settings, run_periodic=False, kinds=["bridge.process"], poll_interval=0.05,
                      worker_id=f"stress-{i}") for i in range(1 if db.is_sqlite else 2)]
    errors: list[str] = []
    started = time.monotonic()
    with serving_process(database_url=db.url, data_dir=settings.data_dir, secret_key=settings.secret_key or "") as base:
        for w in workers:
            w.start()

        def send() -> None:
            with httpx.Client(base_url=base, timeout=30) as http:
                while True:
                    try:
                        body = work.get_nowait()
                    except stdqueue.Empty:
                        return
                    answer = http.post(f"/webhooks/stripe/{CIF}", content=body, headers=stripe_headers(body))
                    if answer.status_code != 200:
                        errors.append(f"{answer.status_code} {answer.text}")

        senders = [threading.Thread(target=send) for _ in range(SENDERS)]
        for t in senders:
            t.start()
        for t in senders:
            t.join()
        acked = time.monotonic() - started
        for w in workers:
            w.stop()
    Worker(db, settings, run_periodic=False, kinds=["bridge.process"]).run_until_idle(timeout=300)
    elapsed = time.monotonic() - started
    assert errors == []

    with db.session() as session:
        docs = list(session.scalars(select(Document).where(Document.kind == "invoice").order_by(Document.number)))
        stornos = list(session.scalars(select(BridgeStorno)))
        pay_rows = list(session.scalars(select(BridgePayment)))
        statuses = dict(session.execute(select(BridgeInbox.status, func.count()).group_by(BridgeInbox.status)).all())
        series = session.scalar(select(Series).where(Series.type == "f", Series.name == "FCT"))
        keys_by_payment: dict[int, str] = {}
        from punte.store.models_bridge import BridgePaymentKey

        for key in session.scalars(select(BridgePaymentKey).where(BridgePaymentKey.key.like("pi_%"))):
            keys_by_payment[key.payment_id] = key.key
    sales = [d for d in docs if d.reverses_id is None and not (d.details or {}).get("partialStornoOf")]
    storno_docs = [d for d in docs if d not in sales]
    assert len(sales) == payments
    assert [d.number for d in docs] == list(range(1, len(docs) + 1))  # no gaps, no duplicates
    assert series is not None and series.next_number == len(docs) + 1
    assert len(pay_rows) == payments and {p.status for p in pay_rows} == {"issued"}
    assert statuses == {"done": len(set(deliveries))}, statuses
    by_payment: dict[str, list[BridgeStorno]] = {}
    for s in stornos:
        by_payment.setdefault(keys_by_payment[s.payment_id], []).append(s)
    assert sorted(by_payment) == sorted(refunded)
    assert all(len(v) == 1 for v in by_payment.values())
    assert len(storno_docs) == len(refunded)
    whole = {d.reverses_id for d in storno_docs if d.reverses_id is not None}
    assert len(whole) == sum(1 for k in refunded.values() if k == "whole")
    print(json.dumps({"payments": payments, "deliveries": len(deliveries), "ack_seconds": round(acked, 1),
                      "total_seconds": round(elapsed, 1)}))
