"""Helpers for the bridge tests: Stripe-shaped payloads, signed deliveries, a local fake of Stripe's API,
and punte served by uvicorn in a thread.

The payload builders follow the shapes of Stripe's own resource fixtures (``/work/shared/stripe/fixtures3.json``,
``resources.checkout.session``, ``payment_intent``, ``charge``, ``refund``, ``invoice``) for API versions after
2025-03-31: ``invoice.payments``, no ``invoice.charge``/``payment_intent``, invoice lines with ``pricing``,
``parent`` and ``taxes``. ``test_bridge_stripe.py`` checks that their keys are Stripe's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import uvicorn

from punte.store.db import Database

SECRET = "whsec_test_4eC39HqLyjWDarjtT1zdp7dc"


def sqlite_database(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """A fresh migrated SQLite database: the ``db`` of modules whose behaviour does not depend on the engine."""
    path = tmp_path / "punte.db"
    shutil.copy(sqlite_template, path)
    database = Database(f"sqlite:///{path}")
    yield database
    database.dispose()
API_KEY = "sk_test_punte_bridge"
API_VERSION = "2025-03-31.basil"


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def address(line1: str | None = "Str. Republicii 11", city: str | None = "Brasov", state: str | None = "Brasov",
            postal_code: str | None = "500030", country: str | None = "RO", line2: str | None = None) -> dict[str, Any]:
    return {"city": city, "country": country, "line1": line1, "line2": line2, "postal_code": postal_code,
            "state": state}


def event(kind: str, obj: dict[str, Any], *, event_id: str | None = None, created: int | None = None) -> dict[str, Any]:
    """A Stripe event envelope around ``obj`` (``resources.event`` shape)."""
    return {
        "id": event_id or _id("evt"), "object": "event", "api_version": API_VERSION,
        "created": created or int(time.time()), "data": {"object": obj, "previous_attributes": {}},
        "livemode": False, "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None}, "type": kind,
    }


def checkout_session(*, pi: str, amount: int, currency: str = "ron", paid: bool = True,
                     customer: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
                     custom_fields: list[dict[str, Any]] | None = None, session_id: str | None = None,
                     shipping: int | None = None, line_items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    details = {"address": address(), "email": "ana.popescu@example.ro", "name": "Ana Popescu", "phone": None,
               "tax_exempt": "none", "tax_ids": [], "business_name": None, "individual_name": None}
    details.update(customer or {})
    sid = session_id or _id("cs_test")
    obj: dict[str, Any] = {
        "adaptive_pricing": {"enabled": False}, "after_expiration": None, "allow_promotion_codes": None,
        "amount_subtotal": amount, "amount_total": amount,
        "automatic_tax": {"enabled": False, "liability": None, "status": None, "provider": None},
        "billing_address_collection": "required", "cancel_url": None, "client_reference_id": None,
        "client_secret": None, "collected_information": {"shipping_details": None, "business_name": None,
                                                         "individual_name": None},
        "consent": None, "consent_collection": None, "created": int(time.time()), "currency": currency,
        "currency_conversion": None, "custom_fields": custom_fields or [], "custom_text": {},
        "customer": None, "customer_creation": "if_required", "customer_details": details,
        "customer_email": None, "discounts": [], "expires_at": int(time.time()) + 86400, "id": sid,
        "invoice": None, "invoice_creation": {"enabled": False, "invoice_data": {}}, "livemode": False,
        "locale": None, "metadata": metadata or {}, "mode": "payment", "object": "checkout.session",
        "payment_intent": pi, "payment_link": None, "payment_method_collection": "if_required",
        "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": ["card"], "payment_status": "paid" if paid else "unpaid",
        "phone_number_collection": {"enabled": False}, "recovered_from": None, "saved_payment_method_options": None,
        "setup_intent": None, "shipping_address_collection": None,
        "shipping_cost": {"amount_subtotal": shipping, "amount_tax": 0, "amount_total": shipping,
                          "shipping_rate": "shr_123"} if shipping else None,
        "shipping_options": [], "status": "complete", "submit_type": None, "subscription": None,
        "success_url": "https://shop.example.ro/ok", "total_details": {"amount_discount": 0, "amount_shipping":
                                                                       shipping or 0, "amount_tax": 0},
        "ui_mode": "hosted", "url": None, "wallet_options": None,
    }
    if line_items is not None:
        obj["line_items"] = {"object": "list", "data": line_items, "has_more": False,
                             "url": f"/v1/checkout/sessions/{sid}/line_items"}
    return obj


def line_item(description: str, unit_amount: int, quantity: int = 1, currency: str = "ron",
              taxes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A Checkout line item (``resources.item``): ``amount_total`` after discounts, with tax."""
    total = unit_amount * quantity
    item = {
        "amount_discount": 0, "amount_subtotal": total, "amount_tax": 0, "amount_total": total, "currency": currency,
        "description": description, "id": _id("li"), "object": "item",
        "price": {"active": True, "billing_scheme": "per_unit", "created": 1721948530, "currency": currency,
                  "custom_unit_amount": None, "id": _id("price"), "livemode": False, "lookup_key": None,
                  "metadata": {}, "nickname": None, "object": "price", "product": _id("prod"), "recurring": None,
                  "tax_behavior": "inclusive", "tiers_mode": None, "transform_quantity": None, "type": "one_time",
                  "unit_amount": unit_amount, "unit_amount_decimal": str(unit_amount)},
        "quantity": quantity, "metadata": None, "adjustable_quantity": None,
    }
    if taxes is not None:
        item["taxes"] = taxes
    return item


def payment_intent(*, pi: str, amount: int, currency: str = "ron", status: str = "succeeded",
                   description: str | None = None, metadata: dict[str, Any] | None = None,
                   shipping: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "amount": amount, "amount_capturable": 0, "amount_details": {"tip": {}},
        "amount_received": amount if status == "succeeded" else 0, "application": None,
        "application_fee_amount": None, "automatic_payment_methods": {"enabled": True}, "canceled_at": None,
        "cancellation_reason": None, "capture_method": "automatic", "client_secret": f"{pi}_secret_x",
        "confirmation_method": "automatic", "created": int(time.time()), "currency": currency, "customer": None,
        "description": description, "id": pi, "last_payment_error": None, "latest_charge": None, "livemode": False,
        "metadata": metadata or {}, "next_action": None, "object": "payment_intent", "on_behalf_of": None,
        "payment_method": "pm_card_visa", "payment_method_configuration_details": None, "payment_method_options": {},
        "payment_method_types": ["card"], "processing": None, "receipt_email": None, "review": None,
        "setup_future_usage": None, "shipping": shipping, "source": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": status, "transfer_data": None, "transfer_group": None,
    }


def charge(*, pi: str | None, amount: int, currency: str = "ron", charge_id: str | None = None,
           billing: dict[str, Any] | None = None, description: str | None = None,
           metadata: dict[str, Any] | None = None, refunded: int = 0,
           refunds: list[dict[str, Any]] | None = None, captured: bool = True) -> dict[str, Any]:
    cid = charge_id or _id("ch")
    details = {"address": address(), "email": "ana.popescu@example.ro", "name": "Ana Popescu", "phone": None,
               "tax_id": None}
    details.update(billing or {})
    return {
        "amount": amount, "amount_captured": amount if captured else 0, "amount_refunded": refunded,
        "application": None, "application_fee": None, "application_fee_amount": None,
        "balance_transaction": _id("txn"), "billing_details": details, "calculated_statement_descriptor": "PUNTE",
        "captured": captured, "created": int(time.time()), "currency": currency, "customer": None,
        "description": description, "disputed": False, "failure_balance_transaction": None, "failure_code": None,
        "failure_message": None, "fraud_details": {}, "id": cid, "livemode": False, "metadata": metadata or {},
        "object": "charge", "on_behalf_of": None, "outcome": {"type": "authorized"}, "paid": True,
        "payment_intent": pi, "payment_method": "pm_card_visa", "payment_method_details": {"type": "card"},
        "receipt_email": None, "receipt_number": None, "receipt_url": None, "refunded": refunded >= amount > 0,
        "refunds": {"object": "list", "data": refunds or [], "has_more": False, "url": f"/v1/charges/{cid}/refunds"},
        "review": None, "shipping": None, "source_transfer": None, "statement_descriptor": None,
        "statement_descriptor_suffix": None, "status": "succeeded", "transfer_data": None, "transfer_group": None,
    }


def refund(*, pi: str | None, charge_id: str | None, amount: int, currency: str = "ron", refund_id: str | None = None,
           status: str = "succeeded") -> dict[str, Any]:
    return {
        "amount": amount, "balance_transaction": _id("txn"), "charge": charge_id, "created": int(time.time()),
        "currency": currency, "destination_details": {"type": "card", "card": {"type": "refund"}},
        "id": refund_id or _id("re"), "metadata": {}, "object": "refund", "payment_intent": pi, "reason": None,
        "receipt_number": None, "source_transfer_reversal": None, "status": status, "transfer_reversal": None,
    }


def stripe_invoice(*, invoice_id: str, pi: str | None, amount: int, currency: str = "ron", status: str = "paid",
                   lines: list[dict[str, Any]] | None = None, customer_name: str = "Ana Popescu",
                   customer_address: dict[str, Any] | None = None, description: str | None = None,
                   tax_ids: list[dict[str, Any]] | None = None,
                   metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    payments = {"object": "list", "data": [], "has_more": False, "url": f"/v1/invoices/{invoice_id}/payments"}
    if pi:
        payments["data"].append({
            "amount_paid": amount if status == "paid" else None, "amount_requested": amount,
            "created": int(time.time()), "currency": currency, "id": _id("inpay"), "invoice": invoice_id,
            "is_default": True, "livemode": False, "object": "invoice_payment",
            "payment": {"type": "payment_intent", "payment_intent": pi},
            "status": "paid" if status == "paid" else "open",
            "status_transitions": {"canceled_at": None, "paid_at": int(time.time()) if status == "paid" else None},
        })
    data = lines if lines is not None else [invoice_line("Abonament lunar", amount, currency=currency)]
    return {
        "account_country": "RO", "account_name": "Firma Test SRL", "account_tax_ids": None, "amount_due": amount,
        "amount_paid": amount if status == "paid" else 0, "amount_overpaid": 0,
        "amount_remaining": 0 if status == "paid" else amount, "amount_shipping": 0, "application": None,
        "attempt_count": 1, "attempted": True, "auto_advance": False, "automatic_tax": {"enabled": False},
        "automatically_finalizes_at": None, "billing_reason": "subscription_cycle",
        "collection_method": "charge_automatically", "created": int(time.time()), "currency": currency,
        "custom_fields": None, "customer": _id("cus"), "customer_address": customer_address or address(),
        "customer_email": "ana.popescu@example.ro", "customer_name": customer_name, "customer_phone": None,
        "customer_shipping": None, "customer_tax_exempt": "none", "customer_tax_ids": tax_ids or [],
        "default_payment_method": None, "default_source": None, "default_tax_rates": [], "description": description,
        "discounts": [], "due_date": None, "effective_at": int(time.time()), "ending_balance": 0, "footer": None,
        "from_invoice": None, "hosted_invoice_url": None, "id": invoice_id, "invoice_pdf": None,
        "issuer": {"type": "self"}, "last_finalization_error": None, "latest_revision": None,
        "lines": {"object": "list", "data": data, "has_more": False, "url": f"/v1/invoices/{invoice_id}/lines"},
        "livemode": False, "metadata": metadata or {}, "next_payment_attempt": None, "number": "ABC-0001",
        "object": "invoice", "on_behalf_of": None, "parent": {"type": "subscription_details",
                                                              "subscription_details": {"subscription": _id("sub"),
                                                                                       "metadata": {}}},
        "payment_settings": {}, "payments": payments, "period_end": int(time.time()),
        "period_start": int(time.time()) - 2592000, "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0, "receipt_number": None, "rendering": None, "shipping_cost": None,
        "shipping_details": None, "starting_balance": 0, "statement_descriptor": None, "status": status,
        "status_transitions": {"finalized_at": int(time.time()), "marked_uncollectible_at": None,
                               "paid_at": int(time.time()) if status == "paid" else None, "voided_at": None},
        "subtotal": amount, "subtotal_excluding_tax": amount, "test_clock": None, "total": amount,
        "total_discount_amounts": [], "total_excluding_tax": amount, "total_pretax_credit_amounts": [],
        "total_taxes": [], "webhooks_delivered_at": None,
    }


def invoice_line(description: str, amount: int, *, quantity: int = 1, currency: str = "ron",
                 taxes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "amount": amount, "currency": currency, "description": description, "discount_amounts": [],
        "discountable": True, "discounts": [], "id": _id("il"), "invoice": None, "livemode": False, "metadata": {},
        "object": "line_item", "parent": {"type": "subscription_item_details", "subscription_item_details": {
            "invoice_item": None, "proration": False, "proration_details": {"credited_items": None},
            "subscription": _id("sub"), "subscription_item": _id("si")}},
        "period": {"end": int(time.time()), "start": int(time.time()) - 2592000},
        "pretax_credit_amounts": [], "pricing": {"type": "price_details", "price_details": {"price": _id("price"),
                                                                                              "product": _id("prod")},
                                                 "unit_amount_decimal": str(amount // quantity)},
        "quantity": quantity, "quantity_decimal": str(quantity), "subscription": None, "subtotal": amount,
        "taxes": taxes or [],
    }


# -- signing -----------------------------------------------------------------------------------------------------


def body_of(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def stripe_signature(body: bytes, secret: str = SECRET, *, timestamp: int | None = None,
                     extra_secrets: tuple[str, ...] = ()) -> str:
    """``Stripe-Signature: t=...,v1=...``: hex HMAC-SHA256 of ``"{t}.{body}"`` (one v1 per secret)."""
    t = int(time.time()) if timestamp is None else timestamp
    parts = [f"t={t}"]
    for key in (secret, *extra_secrets):
        parts.append("v1=" + hmac.new(key.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest())
    return ",".join(parts)


def stripe_headers(body: bytes, secret: str = SECRET, **kw: Any) -> dict[str, str]:
    return {"Stripe-Signature": stripe_signature(body, secret, **kw), "Content-Type": "application/json",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)"}


# -- a local fake of Stripe's API ------------------------------------------------------------------------------


class FakeStripe:
    """A small real HTTP server speaking the Stripe API calls the bridge makes."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self.line_items: dict[str, list[dict[str, Any]]] = {}
        self.invoice_payments: dict[str, list[str]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.by_key: dict[str, str] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, data: dict[str, Any]) -> None:
                raw = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _auth_ok(self) -> bool:
                import base64

                header = self.headers.get("Authorization", "")
                expected = "Basic " + base64.b64encode(f"{fake.api_key}:".encode()).decode()
                bearer = f"Bearer {fake.api_key}"
                if header not in (expected, bearer):
                    self._send(401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}})
                    return False
                return True

            def do_GET(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                with fake.lock:
                    fake.requests.append(("GET", url.path, dict(self.headers)))
                if not self._auth_ok():
                    return
                parts = url.path.strip("/").split("/")
                if parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 4:
                    with fake.lock:
                        found = fake.sessions.get(parts[3])
                    if found is None:
                        self._send(404, {"error": {"message": f"No such checkout.session: '{parts[3]}'"}})
                    else:
                        self._send(200, found)
                    return
                if parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 5 and parts[4] == "line_items":
                    items = fake.line_items.get(parts[3])
                    if items is None:
                        self._send(404, {"error": {"type": "invalid_request_error",
                                                   "message": f"No such checkout.session: '{parts[3]}'"}})
                        return
                    after = query.get("starting_after", [None])[0]
                    limit = int(query.get("limit", ["10"])[0])
                    start = 0
                    if after:
                        start = next(i for i, it in enumerate(items) if it["id"] == after) + 1
                    page = items[start:start + limit]
                    self._send(200, {"object": "list", "data": page, "has_more": start + limit < len(items),
                                     "url": url.path})
                    return
                if url.path == "/v1/invoice_payments":
                    pi = query.get("payment[payment_intent]", [""])[0]
                    data = [{"object": "invoice_payment", "invoice": inv, "id": _id("inpay"),
                             "payment": {"type": "payment_intent", "payment_intent": pi}, "status": "paid"}
                            for inv in fake.invoice_payments.get(pi, [])]
                    self._send(200, {"object": "list", "data": data, "has_more": False, "url": url.path})
                    return
                self._send(404, {"error": {"message": "Unrecognized request URL"}})

            def do_POST(self) -> None:  # noqa: N802
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with fake.lock:
                    fake.requests.append(("POST", url.path, dict(self.headers)))
                if not self._auth_ok():
                    return
                parts = url.path.strip("/").split("/")
                if parts[:3] == ["v1", "checkout", "sessions"] and len(parts) == 5 and parts[4] == "expire":
                    with fake.lock:
                        found = fake.sessions.get(parts[3])
                        if found is not None and found["status"] == "open":
                            found["status"] = "expired"
                    if found is None:
                        self._send(404, {"error": {"message": f"No such checkout.session: '{parts[3]}'"}})
                    elif found["status"] != "expired":
                        self._send(400, {"error": {"message": 'Only Checkout Sessions with a status in ["open"] '
                                                              "can be expired."}})
                    else:
                        self._send(200, found)
                    return
                if url.path != "/v1/checkout/sessions":
                    self._send(404, {"error": {"message": "Unrecognized request URL"}})
                    return
                key = self.headers.get("Idempotency-Key")
                with fake.lock:
                    if key and key in fake.by_key:
                        self._send(200, fake.sessions[fake.by_key[key]])
                        return
                    sid = _id("cs_test")
                    metadata = {k[9:-1]: v for k, v in form.items() if k.startswith("metadata[")}
                    session = {
                        "id": sid, "object": "checkout.session", "mode": form.get("mode"),
                        "url": f"https://checkout.stripe.com/c/pay/{sid}", "metadata": metadata,
                        "amount_total": int(form["line_items[0][price_data][unit_amount]"]),
                        "currency": form["line_items[0][price_data][currency]"], "form": form,
                        "payment_status": "unpaid", "status": "open",
                    }
                    fake.sessions[sid] = session
                    if key:
                        fake.by_key[key] = sid
                self._send(200, session)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeStripe:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn in a thread on a free 127.0.0.1 port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2,
                                           limit_concurrency=1000, backlog=2048))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


_SERVER = """
import sys
import uvicorn
from punte.api.app import create_app
from punte.config import Settings
app = create_app(Settings(), migrate=False, worker=False)
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", backlog=2048)
"""


@contextmanager
def serving_process(*, database_url: str, data_dir: Path, secret_key: str) -> Iterator[str]:
    """punte's API in its own process (as in production, apart from the test's workers and senders)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "PUNTE_DATABASE_URL": database_url, "PUNTE_DATA_DIR": str(data_dir),
           "PUNTE_SECRET_KEY": secret_key, "PUNTE_EMBEDDED_WORKER": "false",
           "PUNTE_CONFIG": str(data_dir / "none.toml")}
    data_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", _SERVER, str(port)], env=env, cwd=str(data_dir))
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("punte did not start")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def run_cli(settings: Any, db: Database, *args: str) -> Any:
    """``punte <args>`` against the test's database and secret (settings are read afresh for it)."""
    from typer.testing import CliRunner

    from punte.cli import app
    from punte.config import get_settings

    env = {"PUNTE_DATA_DIR": str(settings.data_dir), "PUNTE_SECRET_KEY": settings.secret_key or "",
           "PUNTE_DATABASE_URL": db.url}
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(app, list(args), env=env)
    finally:
        get_settings.cache_clear()
