"""Tables of the bridge area (imported by punte.store.models so they join Base.metadata).

``bridge_configs``   one row per (company, provider): secrets (encrypted), series, target, options.
``bridge_inbox``     every verified webhook delivery, raw, unique per (company, provider, event id).
``bridge_payments``  one row per real payment; the business effect (one invoice) hangs on it.
``bridge_payment_keys``  the provider ids that name a payment (PaymentIntent, Stripe invoice, charge,
                     Checkout Session, Shopify order, PayPal order/capture); UNIQUE(company, provider,
                     key) is what makes "one payment, one invoice" hold under concurrent workers.
``bridge_refunds``   refunds seen per payment (by refund id), so a refund counts once.
``bridge_stornos``   the storno documents issued for a payment's refunds.
``bridge_checkouts`` Stripe Checkout Sessions created for punte documents (invoice first, pay later).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base, Money, UTCDateTime, utcnow

BIG_ID = BigInteger().with_variant(Integer, "sqlite")


class BridgeConfig(Base):
    """How one company takes one provider's payments in. Secrets are encrypted with ``SecretBox``."""

    __tablename__ = "bridge_configs"
    __table_args__ = (UniqueConstraint("company_id", "provider", name="uq_bridge_configs_company_provider"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_enc: Mapped[str] = mapped_column(Text)
    previous_secret_enc: Mapped[str | None] = mapped_column(Text)
    previous_secret_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    api_key_enc: Mapped[str | None] = mapped_column(Text)
    api_base_url: Mapped[str | None] = mapped_column(String(300))
    series: Mapped[str | None] = mapped_column(String(20))
    email_payer: Mapped[bool] = mapped_column(Boolean, default=False)
    vat_rate: Mapped[Decimal] = mapped_column(Money)
    reverse_charge: Mapped[bool] = mapped_column(Boolean, default=False)
    issuer: Mapped[str] = mapped_column(String(200))
    target: Mapped[str] = mapped_column(String(12), default="engine")  # engine | smartbill
    smartbill_url: Mapped[str | None] = mapped_column(String(300))
    smartbill_username: Mapped[str | None] = mapped_column(String(200))
    smartbill_token_enc: Mapped[str | None] = mapped_column(Text)
    smartbill_cif: Mapped[str | None] = mapped_column(String(20))
    settle_seconds: Mapped[int] = mapped_column(Integer, default=0)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BridgeInbox(Base):
    """A verified delivery, stored raw before anything else happens to it.

    ``status``: ``received`` (queued), ``done`` (its effect happened or was already there),
    ``waiting`` (payment not confirmed yet, or waiting for the invoice a refund needs),
    ``ignored`` (an event punte does not act on), ``failed`` (the invoice could not be made; ``detail``
    lists the missing or invalid fields).
    """

    __tablename__ = "bridge_inbox"
    __table_args__ = (
        UniqueConstraint("company_id", "provider", "event_id", name="uq_bridge_inbox_company_provider_event"),
        Index("ix_bridge_inbox_company_received", "company_id", "received_at"),
        Index("ix_bridge_inbox_payment_id", "payment_id"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="received")
    outcome: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    payment_id: Mapped[int | None] = mapped_column(BigInteger)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class BridgePayment(Base):
    """One real payment and what punte made of it.

    ``status``: ``collecting`` (seen, not confirmed paid), ``waiting`` (confirmed, waiting for a richer
    event to settle), ``sending`` (SmartBill target: the remote call is queued), ``issued``, ``linked``
    (paid an existing punte document), ``failed`` (``missing`` says why), ``ignored`` (nothing to invoice).
    ``sources`` keeps what each event type said (normalised), merged in a fixed order when issuing.
    """

    __tablename__ = "bridge_payments"
    __table_args__ = (Index("ix_bridge_payments_company_status", "company_id", "status"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12), default="collecting")
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    sources: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    overrides: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    missing: Mapped[list[Any]] = mapped_column(JSON, default=list)
    currency: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"), unique=True)
    linked_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    remote_series: Mapped[str | None] = mapped_column(String(20))
    remote_number: Mapped[str | None] = mapped_column(String(20))
    remote_expected_number: Mapped[str | None] = mapped_column(String(20))
    remote_request: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    refund_claimed: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    refunded: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class BridgePaymentKey(Base):
    """A provider id naming a payment. The unique constraint arbitrates concurrent first sightings."""

    __tablename__ = "bridge_payment_keys"
    __table_args__ = (
        UniqueConstraint("company_id", "provider", "key", name="uq_bridge_payment_keys_company_provider_key"),
    )

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(255))
    payment_id: Mapped[int] = mapped_column(ForeignKey("bridge_payments.id", ondelete="CASCADE"), index=True)


class BridgeRefund(Base):
    """A refund of a payment, counted once whichever events told of it."""

    __tablename__ = "bridge_refunds"
    __table_args__ = (UniqueConstraint("payment_id", "refund_key", name="uq_bridge_refunds_payment_refund"),)

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("bridge_payments.id", ondelete="CASCADE"))
    refund_key: Mapped[str] = mapped_column(String(255))
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BridgeStorno(Base):
    """A storno (whole or partial) issued for a payment's refunds; remote ones keep SmartBill's number."""

    __tablename__ = "bridge_stornos"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("bridge_payments.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id", ondelete="SET NULL"))
    remote_series: Mapped[str | None] = mapped_column(String(20))
    remote_number: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Money)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BridgeCheckout(Base):
    """A Stripe Checkout Session made for a punte document (``paymentUrl: "Generate URL"``)."""

    __tablename__ = "bridge_checkouts"

    id: Mapped[int] = mapped_column(BIG_ID, primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str] = mapped_column(String(255), unique=True)
    url: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
