"""Per-company provider settings of the bridge: secrets (encrypted, rotating), series, VAT, target.

A new webhook secret does not replace the old one at once: the old one stays valid for
``rotation_hours`` (24 by default), so the provider's endpoint can be switched to the new secret
without refusing a single delivery in between ("two valid").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from punte.crypto import SecretBox
from punte.domain.errors import DomainError
from punte.domain.identifiers import cif_digits
from punte.domain.vat import find_rate
from punte.providers import PROVIDERS
from punte.store.db import Database
from punte.store.models import Company
from punte.store.models_bridge import BridgeConfig, BridgeInbox

from . import events
from .companies import vat_rates, vat_status_on
from .issuing import resolve_series, today_in_romania

TARGETS = ("engine", "smartbill")
#: A payment known only from a PaymentIntent, charge or capture event waits this long for the event with
#: its full data (Checkout Session, Stripe invoice, order) before its invoice is attempted from what it has.
DEFAULT_SETTLE_SECONDS = 15
ROTATION_HOURS = 24.0


@dataclass(frozen=True)
class BridgeSettings:
    """What ``punte bridge <provider>`` sets; ``None`` leaves a setting as it is."""

    webhook_secret: str | None = None
    api_key: str | None = None
    api_base_url: str | None = None
    series: str | None = None
    email_payer: bool | None = None
    vat_rate: Decimal | None = None
    reverse_charge: bool | None = None
    target: str | None = None
    issuer: str | None = None
    smartbill_url: str | None = None
    smartbill_username: str | None = None
    smartbill_token: str | None = None
    smartbill_cif: str | None = None
    settle_seconds: int | None = None
    options: dict[str, Any] | None = None
    enabled: bool | None = None
    rotation_hours: float = ROTATION_HOURS


@dataclass(frozen=True)
class Verification:
    """What the webhook route needs to check one delivery (decrypted, no ORM object)."""

    company_id: int
    secrets: tuple[str, ...]
    options: dict[str, Any]


def _now() -> datetime:
    return datetime.now(UTC)


def get_config(session: Session, company: Company, provider: str) -> BridgeConfig | None:
    return session.scalar(
        select(BridgeConfig).where(BridgeConfig.company_id == company.id, BridgeConfig.provider == provider)
    )


def require_config(session: Session, company: Company, provider: str) -> BridgeConfig:
    config = get_config(session, company, provider)
    if config is None:
        raise DomainError(f"Puntea {provider} nu este configurata pentru firma {company.cif}.")
    return config


def _check_secret(provider: str, secret: str) -> str:
    value = secret.strip()
    if not value:
        raise DomainError("Secretul webhook-ului nu poate fi gol.")
    if provider == "stripe" and not value.startswith("whsec_"):
        raise DomainError("Secretul unui webhook Stripe incepe cu whsec_ (Developers > Webhooks > Signing secret).")
    return value


def configure(
    session: Session, company: Company, provider: str, data: BridgeSettings, *, secret_key: str, actor: str,
    now: datetime | None = None,
) -> BridgeConfig:
    """Create or change the company's bridge for ``provider``; every change is an event."""
    if provider not in PROVIDERS:
        raise DomainError(f"Procesatorul de plati {provider} nu este cunoscut ({', '.join(PROVIDERS)}).")
    now = now or _now()
    box = SecretBox(secret_key)
    config = get_config(session, company, provider)
    changed: list[str] = []
    if config is None:
        if not data.webhook_secret:
            raise DomainError("Secretul webhook-ului (--webhook-secret) este obligatoriu la prima configurare.")
        config = BridgeConfig(
            company_id=company.id, provider=provider, enabled=True,
            secret_enc=box.encrypt(_check_secret(provider, data.webhook_secret)), email_payer=False,
            vat_rate=_default_rate(session, company), reverse_charge=False, issuer=f"bridge:{provider}",
            target="engine", settle_seconds=DEFAULT_SETTLE_SECONDS, options={}, created_at=now, updated_at=now,
        )
        session.add(config)
        changed.append("created")
    elif data.webhook_secret:
        new = _check_secret(provider, data.webhook_secret)
        if box.decrypt(config.secret_enc) != new:
            config.previous_secret_enc = config.secret_enc
            config.previous_secret_until = now + timedelta(hours=data.rotation_hours)
            config.secret_enc = box.encrypt(new)
            changed.append("secret_rotated")
    if data.api_key is not None:
        config.api_key_enc = box.encrypt(data.api_key.strip()) if data.api_key.strip() else None
        changed.append("api_key")
    if data.api_base_url is not None:
        config.api_base_url = data.api_base_url.strip() or None
        changed.append("api_base_url")
    if data.series is not None:
        name = data.series.strip() or None
        if name and (data.target or config.target) != "smartbill":
            resolve_series(session, company, "invoice", name, lock=False)
        config.series = name
        changed.append("series")
    if data.email_payer is not None:
        config.email_payer = data.email_payer
        changed.append("email_payer")
    if data.vat_rate is not None:
        if vat_status_on(company, today_in_romania()).vat_payer:
            find_rate(vat_rates(session, company.id), today_in_romania(), name=None, percentage=data.vat_rate,
                      product="(puntea de plati)")
        config.vat_rate = data.vat_rate
        changed.append("vat_rate")
    if data.reverse_charge is not None:
        config.reverse_charge = data.reverse_charge
        changed.append("reverse_charge")
    if data.issuer is not None:
        if not data.issuer.strip():
            raise DomainError("Utilizatorul sub care se emit documentele nu poate fi gol.")
        config.issuer = data.issuer.strip()
        changed.append("issuer")
    if data.settle_seconds is not None:
        if data.settle_seconds < 0 or data.settle_seconds > 3600:
            raise DomainError("Asteptarea (--settle-seconds) trebuie sa fie intre 0 si 3600 de secunde.")
        config.settle_seconds = data.settle_seconds
        changed.append("settle_seconds")
    for attr in ("smartbill_url", "smartbill_username"):
        value = getattr(data, attr)
        if value is not None:
            setattr(config, attr, value.strip() or None)
            changed.append(attr)
    if data.smartbill_cif is not None:
        config.smartbill_cif = cif_digits(data.smartbill_cif) or None
        changed.append("smartbill_cif")
    if data.smartbill_token is not None:
        config.smartbill_token_enc = box.encrypt(data.smartbill_token.strip()) if data.smartbill_token.strip() else None
        changed.append("smartbill_token")
    if data.options:
        config.options = {**(config.options or {}), **data.options}
        changed.append("options")
    if data.enabled is not None:
        config.enabled = data.enabled
        changed.append("enabled")
    if data.target is not None:
        if data.target not in TARGETS:
            raise DomainError(f"Tinta documentelor trebuie sa fie una dintre: {', '.join(TARGETS)}.")
        config.target = data.target
        changed.append("target")
    if config.target == "smartbill" and not (
        config.smartbill_url and config.smartbill_username and config.smartbill_token_enc and config.smartbill_cif
        and config.series
    ):
        raise DomainError(
            "Tinta smartbill cere --smartbill-url, --smartbill-username, --smartbill-token, --smartbill-cif "
            "si --series (seria de facturi din contul SmartBill)."
        )
    config.updated_at = now
    session.flush()
    sa_event.listen(session, "after_commit", lambda _s: VERIFICATIONS.clear(), once=True)
    events.record(
        session, company_id=company.id, entity="bridge_config", entity_id=config.id,
        action="created" if "created" in changed else "changed", actor=actor,
        data={"provider": provider, "changed": changed, "target": config.target, "series": config.series},
    )
    return config


def _default_rate(session: Session, company: Company) -> Decimal:
    today = today_in_romania()
    rates = vat_rates(session, company.id)
    try:
        return find_rate(rates, today, name=None, percentage=None, product="").percentage
    except DomainError:
        return Decimal(21)


def secrets_of(config: BridgeConfig, box: SecretBox, now: datetime | None = None) -> tuple[str, ...]:
    """The secrets a delivery may be signed with now: the current one and, while rotating, the previous."""
    now = now or _now()
    found = [box.decrypt(config.secret_enc)]
    if config.previous_secret_enc and config.previous_secret_until and config.previous_secret_until > now:
        found.append(box.decrypt(config.previous_secret_enc))
    return tuple(found)


def verification(session: Session, cif: str, provider: str, box: SecretBox, now: datetime | None = None
                 ) -> Verification | None:
    """The verification data of an enabled bridge, or None (unknown company, provider or disabled)."""
    digits = cif_digits(cif or "")
    if not digits.isdigit():
        return None
    row = session.execute(
        select(BridgeConfig).join(Company, Company.id == BridgeConfig.company_id)
        .where(Company.cif == digits, BridgeConfig.provider == provider)
    ).scalar_one_or_none()
    if row is None or not row.enabled:
        return None
    return Verification(company_id=row.company_id, secrets=secrets_of(row, box, now), options=dict(row.options or {}))


class VerificationCache:
    """Verification data per (database, CIF, provider), kept a few seconds: the webhook route's hot path.

    A change made in this process (``configure``) empties it when it commits; another process's change
    is seen within ``ttl`` seconds (a rotated-out secret stays valid that much longer, at most).
    """

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._items: dict[tuple[str, str, str], tuple[float, Verification | None]] = {}
        self._lock = threading.Lock()

    def get(self, db: Database, cif: str, provider: str, box: SecretBox) -> Verification | None:
        key = (db.url, cif_digits(cif or ""), provider)
        now = time.monotonic()
        with self._lock:
            hit = self._items.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with db.session() as session:
            found = verification(session, cif, provider, box)
        with self._lock:
            if len(self._items) > 10_000:
                self._items.clear()
            self._items[key] = (now + self.ttl, found)
        return found

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


VERIFICATIONS = VerificationCache()


def decrypted(box: SecretBox, value: str | None) -> str | None:
    return box.decrypt(value) if value else None


def inbox_counts(session: Session, company: Company) -> dict[str, tuple[int, int]]:
    """{provider: (events received, events failed)} of the company's webhook inbox (the settings page)."""
    rows = session.execute(
        select(BridgeInbox.provider, BridgeInbox.status, func.count())
        .where(BridgeInbox.company_id == company.id)
        .group_by(BridgeInbox.provider, BridgeInbox.status)
    ).all()
    counts: dict[str, tuple[int, int]] = {}
    for provider, status, n in rows:
        total, failed = counts.get(provider, (0, 0))
        counts[provider] = (total + n, failed + (n if status == "failed" else 0))
    return counts


def describe(config: BridgeConfig, now: datetime | None = None) -> dict[str, Any]:
    """The settings as shown to an operator (no secrets)."""
    now = now or _now()
    rotating = bool(config.previous_secret_enc and config.previous_secret_until and config.previous_secret_until > now)
    return {
        "provider": config.provider, "enabled": config.enabled, "target": config.target,
        "series": config.series or "(implicita)", "email_payer": config.email_payer,
        "vat_rate": format(config.vat_rate.normalize(), "f"), "reverse_charge": config.reverse_charge,
        "issuer": config.issuer,
        "api_key": "da" if config.api_key_enc else "nu", "settle_seconds": config.settle_seconds,
        "previous_secret_valid_until": config.previous_secret_until.isoformat() if rotating and
        config.previous_secret_until else None,
        "smartbill": f"{config.smartbill_url} ({config.smartbill_cif})" if config.target == "smartbill" else None,
        "options": config.options or {},
    }


__all__ = [
    "BridgeSettings", "TARGETS", "VERIFICATIONS", "Verification", "VerificationCache", "configure", "decrypted",
    "describe", "get_config", "inbox_counts",
    "require_config", "secrets_of", "verification",
]
