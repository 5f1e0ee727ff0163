"""PayPal: ``PAYMENT.CAPTURE.COMPLETED`` makes the invoice, ``PAYMENT.CAPTURE.REFUNDED`` the storno.

Verification is PayPal's certificate scheme, checked locally (no call to PayPal): the signed string is
``transmission_id|transmission_time|webhook_id|crc32(raw body)`` (CRC32 as an unsigned decimal),
``PAYPAL-TRANSMISSION-SIG`` is its base64 RSA-SHA256 (PKCS#1 v1.5) signature, and the public key is in the
certificate at ``PAYPAL-CERT-URL``. The URL must be HTTPS on one of PayPal's hosts (or the company's
allow-list); the certificate is downloaded through an injectable fetcher, must be valid now, must name a
PayPal host, and must chain (through the intermediates sent with it) to a trusted root. The "secret" of
a PayPal bridge is the webhook id PayPal gave the subscription (two during a rotation).

A capture carries no buyer or line data, so ``CHECKOUT.ORDER.COMPLETED``/``APPROVED`` events (and the
order fetched from PayPal's API when the company configured API credentials) supply them; the payment is
named by the order id and the capture ids are its aliases.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from .base import (
    Envelope,
    Facts,
    Interpretation,
    InvalidDelivery,
    Provider,
    RefundClaim,
    Sale,
    SaleLine,
    VerifyContext,
    buyer_from,
    decimal_text,
    load_json_object,
)

TOLERANCE_SECONDS = 300
CERT_HOSTS = ("api.paypal.com", "api-m.paypal.com", "api.sandbox.paypal.com", "api-m.sandbox.paypal.com")
CERT_NAME_SUFFIX = ".paypal.com"
ZERO = Decimal(0)


def signed_string(transmission_id: str, transmission_time: str, webhook_id: str, body: bytes) -> bytes:
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{zlib.crc32(body) & 0xFFFFFFFF}".encode()


def _parse_time(text: str) -> float:
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    stamp = datetime.fromisoformat(value)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.timestamp()


def _names(cert: x509.Certificate) -> list[str]:
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME) if isinstance(a.value, str)]
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names.extend(san.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    return [n.lower() for n in names]


@lru_cache(maxsize=8)
def _roots(pem: bytes | None) -> tuple[x509.Certificate, ...]:
    if pem is None:
        try:
            import certifi

            with open(certifi.where(), "rb") as fh:
                pem = fh.read()
        except (ImportError, OSError):
            return ()
    return tuple(x509.load_pem_x509_certificates(pem))


def _within(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now <= cert.not_valid_after_utc


def check_chain(pem: bytes, *, now: float, trust_roots: bytes | None, name_suffixes: Sequence[str]) -> x509.Certificate:
    """The leaf certificate of ``pem`` once its chain, dates and name are checked; else InvalidDelivery."""
    try:
        chain = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise InvalidDelivery("certificatul PayPal nu poate fi citit") from exc
    when = datetime.fromtimestamp(now, UTC)
    leaf = chain[0]
    if not all(_within(c, when) for c in chain):
        raise InvalidDelivery("certificatul PayPal nu este valabil acum")
    if not any(n == s.lstrip(".") or n.endswith(s if s.startswith(".") else "." + s)
               for n in _names(leaf) for s in name_suffixes):
        raise InvalidDelivery("certificatul nu este emis pentru PayPal")
    try:
        for child, parent in zip(chain, chain[1:]):
            child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise InvalidDelivery("lantul de certificate PayPal este rupt") from exc
    top = chain[-1]
    for root in _roots(trust_roots):
        if root.subject != top.issuer or not _within(root, when):
            continue
        try:
            top.verify_directly_issued_by(root)
            return leaf
        except (ValueError, TypeError, InvalidSignature):
            continue
    raise InvalidDelivery("certificatul PayPal nu duce la o autoritate de incredere")


def _money(obj: Any) -> Decimal | None:
    return decimal_text(obj.get("value")) if isinstance(obj, Mapping) else None


def order_sale(order: Mapping[str, Any]) -> tuple[Sale, list[str], bool]:
    """(sale, capture ids, completed) from a PayPal order (a ``CHECKOUT.ORDER.*`` resource or the API's)."""
    units = [u for u in order.get("purchase_units") or [] if isinstance(u, Mapping)]
    unit = units[0] if units else {}
    amount = unit.get("amount") if isinstance(unit.get("amount"), Mapping) else {}
    currency = str(amount.get("currency_code") or "").upper() or None
    total = _money(amount)
    breakdown = amount.get("breakdown") if isinstance(amount.get("breakdown"), Mapping) else {}
    lines: list[SaleLine] = []
    for item in unit.get("items") or []:
        if not isinstance(item, Mapping):
            continue
        quantity = decimal_text(item.get("quantity")) or Decimal(1)
        price = (_money(item.get("unit_amount")) or ZERO) + (_money(item.get("tax")) or ZERO)
        lines.append(SaleLine(name=str(item.get("name") or "Produs"), quantity=quantity, amount=price * quantity,
                              code=item.get("sku") or None, is_service=item.get("category") == "DIGITAL_GOODS"))
    shipping_cost = (_money(breakdown.get("shipping")) or ZERO) - (_money(breakdown.get("shipping_discount")) or ZERO)
    if lines and shipping_cost > 0:
        lines.append(SaleLine(name="Transport", quantity=Decimal(1), amount=shipping_cost, is_service=True))
    extra = (_money(breakdown.get("handling")) or ZERO) + (_money(breakdown.get("insurance")) or ZERO)
    if lines and extra > 0:
        lines.append(SaleLine(name="Manipulare si asigurare", quantity=Decimal(1), amount=extra, is_service=True))
    discount = _money(breakdown.get("discount")) or ZERO
    if lines and discount > 0:
        lines.append(SaleLine(name="Discount", quantity=Decimal(1), amount=-discount))
    payer = order.get("payer") if isinstance(order.get("payer"), Mapping) else {}
    payer_name = payer.get("name") if isinstance(payer.get("name"), Mapping) else {}
    tax_info = payer.get("tax_info") if isinstance(payer.get("tax_info"), Mapping) else {}
    shipping = unit.get("shipping") if isinstance(unit.get("shipping"), Mapping) else {}

    def address(addr: Any) -> dict[str, Any]:
        a = addr if isinstance(addr, Mapping) else {}
        return {"line1": a.get("address_line_1"), "line2": a.get("address_line_2"), "city": a.get("admin_area_2"),
                "state": a.get("admin_area_1"), "postal_code": a.get("postal_code"), "country": a.get("country_code")}

    buyer = buyer_from([
        {"name": " ".join(p for p in (payer_name.get("given_name"), payer_name.get("surname")) if p) or None,
         "email": payer.get("email_address"), "cif": tax_info.get("tax_id"), **address(payer.get("address"))},
        {"name": (shipping.get("name") or {}).get("full_name") if isinstance(shipping.get("name"), Mapping) else None,
         **address(shipping.get("address"))},
    ])
    captures = []
    completed = False
    payments = unit.get("payments") if isinstance(unit.get("payments"), Mapping) else {}
    for capture in payments.get("captures") or []:
        if isinstance(capture, Mapping) and capture.get("id"):
            captures.append(str(capture["id"]))
            completed = completed or capture.get("status") == "COMPLETED"
    sale = Sale(currency=currency, total=total, paid=total if completed else None, lines=tuple(lines) or None,
                lines_rule="items" if lines else None, buyer=buyer, payment_type=PayPalProvider.payment_type,
                reference=unit.get("invoice_id") or unit.get("custom_id"))
    return sale, captures, completed


class PayPalProvider(Provider):
    name = "paypal"
    payment_type = "Alta incasare"

    def verify(self, body: bytes, headers: Mapping[str, str], secrets: Sequence[str], ctx: VerifyContext) -> None:
        tid = headers.get("paypal-transmission-id", "").strip()
        ttime = headers.get("paypal-transmission-time", "").strip()
        sig = headers.get("paypal-transmission-sig", "").strip()
        cert_url = headers.get("paypal-cert-url", "").strip()
        algo = headers.get("paypal-auth-algo", "").strip()
        if not (tid and ttime and sig and cert_url):
            raise InvalidDelivery("lipsesc antetele de semnatura PayPal")
        if algo and algo.upper() != "SHA256WITHRSA":
            raise InvalidDelivery(f"algoritm de semnatura PayPal necunoscut: {algo}")
        try:
            sent = _parse_time(ttime)
        except ValueError as exc:
            raise InvalidDelivery("PAYPAL-TRANSMISSION-TIME nu este o data valida") from exc
        if abs(ctx.now - sent) > TOLERANCE_SECONDS:
            raise InvalidDelivery("marcajul de timp al transmisiei PayPal este prea vechi")
        url = urlsplit(cert_url)
        hosts = tuple((ctx.options or {}).get("cert_hosts") or CERT_HOSTS)
        if url.scheme != "https" or (url.hostname or "").lower() not in {h.lower() for h in hosts}:
            raise InvalidDelivery("PAYPAL-CERT-URL nu este o adresa PayPal permisa")
        if ctx.fetch is None:
            raise InvalidDelivery("certificatul PayPal nu poate fi descarcat")
        try:
            pem = ctx.fetch(cert_url)
        except Exception as exc:  # noqa: BLE001 - any download failure is a refusal (PayPal retries)
            raise InvalidDelivery(f"certificatul PayPal nu a putut fi descarcat: {exc}") from exc
        suffixes = tuple((ctx.options or {}).get("cert_names") or (CERT_NAME_SUFFIX,))
        leaf = check_chain(pem, now=ctx.now, trust_roots=ctx.trust_roots, name_suffixes=suffixes)
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise InvalidDelivery("certificatul PayPal nu are o cheie RSA")
        try:
            signature = base64.b64decode(sig, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidDelivery("PAYPAL-TRANSMISSION-SIG nu este base64") from exc
        for webhook_id in secrets:
            try:
                key.verify(signature, signed_string(tid, ttime, webhook_id, body), padding.PKCS1v15(), hashes.SHA256())
                return
            except InvalidSignature:
                continue
        raise InvalidDelivery("semnatura PayPal nu se potriveste")

    def envelope(self, body: bytes, headers: Mapping[str, str]) -> Envelope:
        event = load_json_object(body)
        event_id, kind = event.get("id"), event.get("event_type")
        if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
            raise InvalidDelivery("evenimentul PayPal nu are id")
        if not isinstance(kind, str) or not kind:
            raise InvalidDelivery("evenimentul PayPal nu are event_type")
        if not isinstance(event.get("resource"), Mapping):
            raise InvalidDelivery("evenimentul PayPal nu are resource")
        return Envelope(event_id, kind)

    def interpret(self, event: Mapping[str, Any], headers: Mapping[str, str]) -> Interpretation:
        kind = str(event.get("event_type") or "")
        resource = event.get("resource") or {}
        if kind == "PAYMENT.CAPTURE.COMPLETED":
            return Interpretation(self._capture(resource))
        if kind == "PAYMENT.CAPTURE.REFUNDED":
            return self._refund(resource)
        if kind in ("CHECKOUT.ORDER.COMPLETED", "CHECKOUT.ORDER.APPROVED"):
            sale, captures, completed = order_sale(resource)
            keys = tuple(k for k in (str(resource.get("id") or ""), *captures) if k)
            return Interpretation(Facts(keys=keys, source="order", rank=1, confirmed=completed, strong=True,
                                        sale=sale, currency=sale.currency,
                                        note="" if completed else "comanda PayPal nu este incasata inca"))
        return Interpretation(None, f"evenimentul {kind} nu produce documente")

    def _capture(self, capture: Mapping[str, Any]) -> Facts:
        amount = capture.get("amount") if isinstance(capture.get("amount"), Mapping) else {}
        currency = str(amount.get("currency_code") or "").upper() or None
        total = _money(amount)
        related = ((capture.get("supplementary_data") or {}).get("related_ids") or {}) if isinstance(
            capture.get("supplementary_data"), Mapping) else {}
        keys = tuple(k for k in (related.get("order_id"), capture.get("id")) if k)
        confirmed = capture.get("status") == "COMPLETED"
        sale = Sale(currency=currency, total=total, paid=total if confirmed else None, payment_type=self.payment_type,
                    reference=capture.get("invoice_id") or capture.get("custom_id"),
                    fetch_lines=related.get("order_id"))
        return Facts(keys=tuple(str(k) for k in keys), source="capture", rank=3, confirmed=confirmed, sale=sale,
                     currency=currency, note="" if confirmed else f"captura cu status {capture.get('status')}")

    def _refund(self, refund: Mapping[str, Any]) -> Interpretation:
        capture_id = None
        for link in refund.get("links") or []:
            if isinstance(link, Mapping) and link.get("rel") == "up" and "/captures/" in str(link.get("href")):
                capture_id = str(link["href"]).rstrip("/").rsplit("/", 1)[-1]
        if capture_id is None:
            return Interpretation(None, "rambursarea PayPal nu indica captura (link rel=up)")
        amount = refund.get("amount") if isinstance(refund.get("amount"), Mapping) else {}
        value = _money(amount)
        claims = ()
        if refund.get("status") in ("COMPLETED", "PENDING") and value and refund.get("id"):
            claims = (RefundClaim(str(refund["id"]), value),)
        return Interpretation(Facts(keys=(capture_id,), source="refund", rank=5, refunds=claims,
                                    currency=str(amount.get("currency_code") or "").upper() or None))


__all__ = ["CERT_HOSTS", "PayPalProvider", "check_chain", "order_sale", "signed_string"]
