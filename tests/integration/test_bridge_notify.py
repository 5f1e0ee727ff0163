"""A payment the bridge cannot invoice is e-mailed "to the company's address and to the user associated with
issuing" (seed 001): the bridge's ``issuer``, when it is an e-mail address, receives the notice with the company.

Delivered through the outbox and the worker to a real SMTP server (aiosmtpd on a local port).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from punte.config import Settings
from punte.services.companies import get_company
from punte.store.db import Database
from tests.conftest import Account

from .bridge_support import address, checkout_session, event, sqlite_database
from .test_bridge_stripe import deliver, invoices, run_worker, setup_bridge
from .test_email import SmtpServer, configure
from .test_email import run_worker as run_mailer

COMPANY_EMAIL = "office@firma-test.ro"


@pytest.fixture
def db(tmp_path: Path, sqlite_template: Path) -> Iterator[Database]:
    """Who gets the notice does not depend on the database engine: SQLite only."""
    yield from sqlite_database(tmp_path, sqlite_template)


@pytest.fixture
def smtp(db: Database, settings: Settings, account: Account) -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    configure(db, settings, account, server.port)
    with db.session(write=True) as s:
        get_company(s, account.cif).email = COMPANY_EMAIL
    yield server
    server.stop()


def unbillable_sale(client: Any, pi: str) -> None:
    """A paid Checkout Session without the buyer's name and county: no invoice can be made from it."""
    deliver(client, event("checkout.session.completed", checkout_session(
        pi=pi, amount=12100, metadata={"product_name": "Carte"},
        customer={"name": None, "address": address(None, "Codlea", None, None, "RO")})))


def recipients(smtp: SmtpServer) -> list[list[str]]:
    return [sorted(got.rcpt_tos) for got in smtp.received]


def test_failure_notice_goes_to_the_company_and_the_issuing_user(
    client: Any, db: Database, settings: Settings, smtp: SmtpServer,
) -> None:
    setup_bridge(db, settings, issuer="Ana.Pop@firma-test.ro")
    unbillable_sale(client, "pi_notify_both")
    run_worker(db, settings)
    assert invoices(db) == []
    run_mailer(db, settings)
    assert recipients(smtp) == [sorted([COMPANY_EMAIL, "Ana.Pop@firma-test.ro"])]
    (got,) = smtp.received
    assert got.message["Subject"] == "Factura neemisa dintr-o plata (stripe)"
    assert "buyer.county" in str(got.message.get_body(preferencelist=("plain",)).get_content())


def test_an_issuer_that_is_not_an_address_leaves_the_company_alone_on_the_notice(
    client: Any, db: Database, settings: Settings, smtp: SmtpServer,
) -> None:
    setup_bridge(db, settings)  # issuer "bridge:stripe"
    unbillable_sale(client, "pi_notify_company")
    run_worker(db, settings)
    run_mailer(db, settings)
    assert recipients(smtp) == [[COMPANY_EMAIL]]


def test_an_issuer_with_the_company_address_gets_one_copy(
    client: Any, db: Database, settings: Settings, smtp: SmtpServer,
) -> None:
    setup_bridge(db, settings, issuer=COMPANY_EMAIL.upper())
    unbillable_sale(client, "pi_notify_same")
    run_worker(db, settings)
    run_mailer(db, settings)
    assert recipients(smtp) == [[COMPANY_EMAIL]]


def test_without_a_company_address_the_issuing_user_still_hears_of_it(
    client: Any, db: Database, settings: Settings, smtp: SmtpServer, account: Account,
) -> None:
    with db.session(write=True) as s:
        get_company(s, account.cif).email = None
    setup_bridge(db, settings, issuer="ana@firma-test.ro")
    unbillable_sale(client, "pi_notify_user")
    run_worker(db, settings)
    run_mailer(db, settings)
    assert recipients(smtp) == [["ana@firma-test.ro"]]
