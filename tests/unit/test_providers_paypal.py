"""PayPal's certificate-based webhook verification, with a locally generated CA and signing certificate
served through an injectable transport, and what PayPal's events mean."""

from __future__ import annotations

import base64
import json
import time
import zlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from punte.providers.base import InvalidDelivery, VerifyContext
from punte.providers.paypal import PayPalProvider, signed_string
from punte.services.bridge_clients import CertificateCache

PAYPAL = PayPalProvider()
WEBHOOK_ID = "8PT597110X687430LKGECATA"
CERT_URL = "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn), x509.NameAttribute(NameOID.ORGANIZATION_NAME,
                                                                                      "Test")])


def _cert(subject: str, key: rsa.RSAPrivateKey, issuer: str, issuer_key: rsa.RSAPrivateKey, *, ca: bool,
          days: int = 30, start: datetime | None = None) -> x509.Certificate:
    now = start or datetime.now(UTC) - timedelta(days=1)
    builder = (
        x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer)).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


class Pki:
    """A root CA, an intermediate and PayPal's message-signing certificate, all local."""

    def __init__(self) -> None:
        self.root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.mid_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.root = _cert("Test Root CA", self.root_key, "Test Root CA", self.root_key, ca=True, days=3650)
        self.mid = _cert("Test Intermediate", self.mid_key, "Test Root CA", self.root_key, ca=True, days=365)
        self.leaf = _cert("messageverificationcerts.paypal.com", self.key, "Test Intermediate", self.mid_key, ca=False)
        self.chain = _pem(self.leaf, self.mid)
        self.roots = _pem(self.root)
        self.served: list[str] = []

    def transport(self) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            self.served.append(str(request.url))
            return httpx.Response(200, content=self.chain, headers={"Content-Type": "application/x-pem-file"})
        return httpx.MockTransport(answer)

    def headers(self, body: bytes, *, webhook_id: str = WEBHOOK_ID, key: rsa.RSAPrivateKey | None = None,
                when: datetime | None = None, cert_url: str = CERT_URL) -> dict[str, str]:
        tid = "b2384410-f8d2-11e8-a3c6-3b8ed3b1a3ff"
        ttime = (when or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
        signature = (key or self.key).sign(signed_string(tid, ttime, webhook_id, body), padding.PKCS1v15(),
                                           hashes.SHA256())
        return {"paypal-transmission-id": tid, "paypal-transmission-time": ttime,
                "paypal-transmission-sig": base64.b64encode(signature).decode(), "paypal-cert-url": cert_url,
                "paypal-auth-algo": "SHA256withRSA", "content-type": "application/json"}


@pytest.fixture(scope="module")
def pki() -> Pki:
    return Pki()


def capture_event(capture_id: str = "2GG279541U471931P", order_id: str = "5O190127TN364715T",
                  value: str = "121.00") -> dict[str, Any]:
    return {
        "id": "WH-58D329510W468432D-8HN650336L201105X", "create_time": "2026-02-14T22:20:08.370Z",
        "resource_type": "capture", "event_type": "PAYMENT.CAPTURE.COMPLETED", "summary": "Payment completed",
        "resource": {
            "id": capture_id, "status": "COMPLETED", "amount": {"currency_code": "RON", "value": value},
            "final_capture": True, "seller_protection": {"status": "ELIGIBLE"},
            "seller_receivable_breakdown": {"gross_amount": {"currency_code": "RON", "value": value}},
            "supplementary_data": {"related_ids": {"order_id": order_id}}, "invoice_id": "INV-77",
            "create_time": "2026-02-14T22:18:14Z", "update_time": "2026-02-14T22:18:14Z",
            "links": [{"href": f"https://api.paypal.com/v2/payments/captures/{capture_id}", "rel": "self",
                       "method": "GET"}],
        },
        "event_version": "1.0", "resource_version": "2.0",
    }


def ctx(pki: Pki, **options: Any) -> VerifyContext:
    return VerifyContext(now=time.time(), options=options, fetch=CertificateCache(pki.transport()).fetch,
                         trust_roots=pki.roots)


def test_signature_checked_with_the_certificate_from_the_cert_url(pki: Pki) -> None:
    body = json.dumps(capture_event()).encode()
    PAYPAL.verify(body, pki.headers(body), [WEBHOOK_ID], ctx(pki))
    assert pki.served[-1] == CERT_URL


def test_signed_string_uses_unsigned_crc32_of_the_raw_body() -> None:
    body = b'{"id":"WH-1","event_type":"X","resource":{}}'
    crc = zlib.crc32(body) & 0xFFFFFFFF
    assert signed_string("tid", "2026-01-01T00:00:00Z", "WID", body) == f"tid|2026-01-01T00:00:00Z|WID|{crc}".encode()


def test_either_webhook_id_is_valid_while_rotating(pki: Pki) -> None:
    body = json.dumps(capture_event()).encode()
    PAYPAL.verify(body, pki.headers(body, webhook_id="NEWID123"), [WEBHOOK_ID, "NEWID123"], ctx(pki))
    with pytest.raises(InvalidDelivery, match="nu se potriveste"):
        PAYPAL.verify(body, pki.headers(body, webhook_id="NEWID123"), [WEBHOOK_ID], ctx(pki))


def test_changed_body_is_refused(pki: Pki) -> None:
    body = json.dumps(capture_event()).encode()
    headers = pki.headers(body)
    with pytest.raises(InvalidDelivery, match="nu se potriveste"):
        PAYPAL.verify(body.replace(b"121.00", b"1.00"), headers, [WEBHOOK_ID], ctx(pki))


def test_certificate_urls_outside_paypal_are_not_fetched(pki: Pki) -> None:
    body = json.dumps(capture_event()).encode()
    for url in ("https://evil.example.com/cert.pem", "http://api.paypal.com/v1/notifications/certs/X",
                "https://api.paypal.com.evil.com/cert"):
        before = len(pki.served)
        with pytest.raises(InvalidDelivery, match="adresa PayPal permisa"):
            PAYPAL.verify(body, pki.headers(body, cert_url=url), [WEBHOOK_ID], ctx(pki))
        assert len(pki.served) == before
    allowed = "https://certs.internal.example/paypal.pem"
    PAYPAL.verify(body, pki.headers(body, cert_url=allowed), [WEBHOOK_ID],
                  ctx(pki, cert_hosts=["certs.internal.example"]))


def test_a_certificate_not_chaining_to_a_trusted_root_is_refused(pki: Pki) -> None:
    body = json.dumps(capture_event()).encode()
    rogue_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rogue = _cert("messageverificationcerts.paypal.com", rogue_key, "messageverificationcerts.paypal.com", rogue_key,
                  ca=False)

    def serve(_request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=_pem(rogue))

    context = VerifyContext(now=time.time(), fetch=CertificateCache(httpx.MockTransport(serve)).fetch,
                            trust_roots=pki.roots)
    with pytest.raises(InvalidDelivery, match="autoritate de incredere"):
        PAYPAL.verify(body, pki.headers(body, key=rogue_key), [WEBHOOK_ID], context)


def test_expired_or_foreign_certificates_are_refused(pki: Pki) -> None:
    body = json.dumps(capture_event()).encode()
    old = _cert("messageverificationcerts.paypal.com", pki.key, "Test Intermediate", pki.mid_key, ca=False, days=10,
                start=datetime.now(UTC) - timedelta(days=40))
    other = _cert("www.example.com", pki.key, "Test Intermediate", pki.mid_key, ca=False)
    for cert, reason in ((old, "nu este valabil"), (other, "nu este emis pentru PayPal")):
        pem = _pem(cert, pki.mid)
        context = VerifyContext(now=time.time(), fetch=lambda _url, pem=pem: pem, trust_roots=pki.roots)
        with pytest.raises(InvalidDelivery, match=reason):
            PAYPAL.verify(body, pki.headers(body), [WEBHOOK_ID], context)


def test_stale_transmission_is_refused(pki: Pki) -> None:
    body = json.dumps(capture_event()).encode()
    headers = pki.headers(body, when=datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(InvalidDelivery, match="prea vechi"):
        PAYPAL.verify(body, headers, [WEBHOOK_ID], ctx(pki))


def test_certificates_are_downloaded_once_per_url(pki: Pki) -> None:
    cache = CertificateCache(pki.transport())
    before = len(pki.served)
    assert cache.fetch(CERT_URL) == cache.fetch(CERT_URL) == pki.chain
    assert len(pki.served) == before + 1


# ---- events --------------------------------------------------------------------------------------------------


def test_capture_completed_names_the_order_and_the_capture() -> None:
    facts = PAYPAL.interpret(capture_event(), {}).facts
    assert facts is not None and facts.confirmed and facts.keys == ("5O190127TN364715T", "2GG279541U471931P")
    assert facts.sale.total == Decimal("121.00") and facts.sale.currency == "RON"
    assert facts.sale.fetch_lines == "5O190127TN364715T" and facts.sale.payment_type == "Alta incasare"


def test_refund_names_its_capture_by_the_up_link() -> None:
    refund = {"id": "WH-R1", "event_type": "PAYMENT.CAPTURE.REFUNDED", "resource_type": "refund", "resource": {
        "id": "1Y107995YT783435V", "status": "COMPLETED", "amount": {"currency_code": "RON", "value": "21.00"},
        "links": [{"rel": "self", "href": "https://api.paypal.com/v2/payments/refunds/1Y107995YT783435V"},
                  {"rel": "up", "href": "https://api.paypal.com/v2/payments/captures/2GG279541U471931P"}]}}
    facts = PAYPAL.interpret(refund, {}).facts
    assert facts is not None and facts.keys == ("2GG279541U471931P",)
    assert [(c.key, c.amount) for c in facts.refunds] == [("1Y107995YT783435V", Decimal("21.00"))]


def test_order_completed_carries_buyer_and_items() -> None:
    order = {"id": "WH-O1", "event_type": "CHECKOUT.ORDER.COMPLETED", "resource": {
        "id": "5O190127TN364715T", "status": "COMPLETED", "intent": "CAPTURE",
        "payer": {"name": {"given_name": "Ana", "surname": "Pop"}, "email_address": "ana@example.ro",
                  "payer_id": "QYR5Z8XDVJNXQ", "address": {"address_line_1": "Str. Lunga 3", "admin_area_2": "Brasov",
                                                           "admin_area_1": "BV", "postal_code": "500030",
                                                           "country_code": "RO"}},
        "purchase_units": [{"reference_id": "default", "amount": {
            "currency_code": "RON", "value": "131.00", "breakdown": {
                "item_total": {"currency_code": "RON", "value": "100.00"},
                "tax_total": {"currency_code": "RON", "value": "21.00"},
                "shipping": {"currency_code": "RON", "value": "10.00"}}},
            "items": [{"name": "Carte", "quantity": "2", "unit_amount": {"currency_code": "RON", "value": "50.00"},
                       "tax": {"currency_code": "RON", "value": "10.50"}}],
            "payments": {"captures": [{"id": "2GG279541U471931P", "status": "COMPLETED",
                                       "amount": {"currency_code": "RON", "value": "131.00"}}]}}],
    }}
    facts = PAYPAL.interpret(order, {}).facts
    assert facts is not None and facts.confirmed and facts.strong
    assert facts.keys == ("5O190127TN364715T", "2GG279541U471931P")
    assert [(ln.name, ln.quantity, ln.amount) for ln in facts.sale.lines] == [
        ("Carte", Decimal(2), Decimal("121.00")), ("Transport", Decimal(1), Decimal("10.00"))]
    assert (facts.sale.buyer.name, facts.sale.buyer.city, facts.sale.buyer.country) == ("Ana Pop", "Brasov", "RO")
