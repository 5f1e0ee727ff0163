"""The bridge's outgoing calls: Stripe's API, PayPal's API and certificates, a remote SmartBill account.

Every client takes a base URL and an injectable ``httpx`` transport (tests run real local servers) and
has explicit timeouts. 5xx answers and network failures raise :class:`Unavailable` (the worker retries
the job with back-off); 4xx answers raise :class:`Refused` (retrying would not help).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

STRIPE_API = "https://api.stripe.com"
STRIPE_VERSION = "2025-03-31.basil"
PAYPAL_API = "https://api-m.paypal.com"
TIMEOUT = httpx.Timeout(15.0, connect=5.0)


class Unavailable(Exception):  # noqa: N818
    """The remote did not answer usefully (network, timeout, 5xx): try again later."""


class Refused(Exception):  # noqa: N818
    """The remote refused the request (4xx): the text says why."""


def _check(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code >= 500:
        raise Unavailable(f"{what}: HTTP {response.status_code}")
    try:
        data = response.json()
    except ValueError:
        data = {}
    if response.status_code >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        message = error.get("message") if isinstance(error, dict) else None
        message = message or (data.get("message") if isinstance(data, dict) else None) or response.text[:200]
        raise Refused(f"{what}: HTTP {response.status_code}: {message}")
    if not isinstance(data, dict):
        raise Unavailable(f"{what}: raspuns neasteptat")
    return data


class StripeApi:
    """The few Stripe API calls the bridge makes (form-encoded requests, JSON answers)."""

    def __init__(self, api_key: str, base_url: str | None = None, *, transport: httpx.BaseTransport | None = None,
                 timeout: httpx.Timeout | float = TIMEOUT) -> None:
        self._http = httpx.Client(
            base_url=(base_url or STRIPE_API).rstrip("/"), auth=(api_key, ""), transport=transport, timeout=timeout,
            headers={"Stripe-Version": STRIPE_VERSION, "User-Agent": "punte-bridge"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> StripeApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _get(self, path: str, params: list[tuple[str, str]], what: str) -> dict[str, Any]:
        try:
            response = self._http.get(path, params=params)
        except httpx.HTTPError as exc:
            raise Unavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        return _check(response, what)

    def session_line_items(self, session_id: str) -> list[dict[str, Any]]:
        """All line items of a Checkout Session, with their taxes (``GET .../line_items``, paginated)."""
        items: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(50):  # 5000 items is far beyond any real session
            params = [("limit", "100"), ("expand[]", "data.taxes")]
            if after:
                params.append(("starting_after", after))
            page = self._get(f"/v1/checkout/sessions/{session_id}/line_items", params, "Stripe line_items")
            data = [d for d in page.get("data") or [] if isinstance(d, dict)]
            items.extend(data)
            if not page.get("has_more") or not data:
                break
            after = str(data[-1].get("id"))
        return items

    def invoices_paid_by(self, payment_intent: str) -> list[str]:
        """Stripe invoices a PaymentIntent paid (``GET /v1/invoice_payments``): links Billing payments."""
        page = self._get(
            "/v1/invoice_payments",
            [("payment[type]", "payment_intent"), ("payment[payment_intent]", payment_intent), ("limit", "10")],
            "Stripe invoice_payments",
        )
        return [str(d["invoice"]) for d in page.get("data") or [] if isinstance(d, dict) and d.get("invoice")]

    def create_checkout_session(self, form: list[tuple[str, str]], *, idempotency_key: str) -> dict[str, Any]:
        """``POST /v1/checkout/sessions`` (``form``: Stripe's bracketed form fields); the same key never makes two."""
        try:
            response = self._http.post("/v1/checkout/sessions", data=dict(form),
                                       headers={"Idempotency-Key": idempotency_key})
        except httpx.HTTPError as exc:
            raise Unavailable(f"Stripe Checkout: {type(exc).__name__}: {exc}") from exc
        return _check(response, "Stripe Checkout")

    def checkout_session(self, session_id: str) -> dict[str, Any]:
        """``GET /v1/checkout/sessions/{id}``: its ``status`` is open, complete or expired."""
        return self._get(f"/v1/checkout/sessions/{session_id}", [], "Stripe Checkout")

    def expire_checkout_session(self, session_id: str) -> dict[str, Any]:
        """``POST /v1/checkout/sessions/{id}/expire``: an open session can no longer be paid."""
        try:
            response = self._http.post(f"/v1/checkout/sessions/{session_id}/expire")
        except httpx.HTTPError as exc:
            raise Unavailable(f"Stripe Checkout: {type(exc).__name__}: {exc}") from exc
        return _check(response, "Stripe Checkout")


class PayPalApi:
    """PayPal's REST API with client credentials (``client_id:secret``): fetching an order."""

    def __init__(self, credentials: str, base_url: str | None = None, *, transport: httpx.BaseTransport | None = None,
                 timeout: httpx.Timeout | float = TIMEOUT) -> None:
        client_id, _, secret = credentials.partition(":")
        self._auth = (client_id, secret)
        self._http = httpx.Client(base_url=(base_url or PAYPAL_API).rstrip("/"), transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PayPalApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def order(self, order_id: str) -> dict[str, Any]:
        try:
            token = _check(self._http.post("/v1/oauth2/token", data={"grant_type": "client_credentials"},
                                           auth=self._auth), "PayPal OAuth").get("access_token")
            response = self._http.get(f"/v2/checkout/orders/{order_id}",
                                      headers={"Authorization": f"Bearer {token}"})
        except httpx.HTTPError as exc:
            raise Unavailable(f"PayPal: {type(exc).__name__}: {exc}") from exc
        return _check(response, "PayPal order")


class CertificateCache:
    """PayPal's signing certificates, downloaded once per URL (kept an hour) through ``transport``."""

    def __init__(self, transport: httpx.BaseTransport | None = None, ttl: float = 3600.0) -> None:
        self._transport = transport
        self._ttl = ttl
        self._items: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()

    def fetch(self, url: str) -> bytes:
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(url)
            if hit and hit[0] > now:
                return hit[1]
        with httpx.Client(transport=self._transport, timeout=httpx.Timeout(10.0, connect=5.0),
                          follow_redirects=False) as http:
            response = http.get(url)
        if response.status_code != 200:
            raise Unavailable(f"certificat PayPal: HTTP {response.status_code}")
        with self._lock:
            if len(self._items) > 64:
                self._items.clear()
            self._items[url] = (now + self._ttl, response.content)
        return response.content


def stripe_api(api_key: str, base_url: str | None, services: dict[str, Any]) -> StripeApi:
    return StripeApi(api_key, base_url, transport=services.get("stripe_transport"))


def paypal_api(credentials: str, base_url: str | None, services: dict[str, Any]) -> PayPalApi:
    return PayPalApi(credentials, base_url, transport=services.get("paypal_transport"))


def smartbill_client(username: str, token: str, base_url: str, services: dict[str, Any]) -> Any:
    """punte's SmartBill client for a company's remote account (no client-side retries: the job retries)."""
    from punte.smartbill.client import SmartBill

    return SmartBill(username, token, base_url, transport=services.get("smartbill_transport"), retries=0,
                     timeout=httpx.Timeout(30.0, connect=5.0))


CertFetch = Callable[[str], bytes]

__all__ = [
    "CertificateCache", "PayPalApi", "Refused", "STRIPE_VERSION", "StripeApi", "Unavailable", "paypal_api",
    "smartbill_client", "stripe_api",
]
