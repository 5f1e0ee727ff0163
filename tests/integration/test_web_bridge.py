"""The webhook inbox page: a signed Stripe delivery that fails for missing buyer data is listed with its
missing fields, then corrected and retried from the page (accountant), which issues the invoice."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from punte.config import Settings
from punte.store.db import Database
from tests.conftest import Account
from tests.integration.bridge_support import address, checkout_session, event
from tests.integration.test_bridge_stripe import (
    deliver,
    invoices,
    run_worker,
    setup_bridge,
)
from tests.integration.web_support import add_web_user, logged_in

ACCOUNTANT, VIEWER = "dan@firma.ro", "ion@firma.ro"


def test_failed_stripe_event_shows_its_missing_fields_and_is_fixed_and_retried_from_the_page(
    client: TestClient, db: Database, settings: Settings, account: Account,
) -> None:
    setup_bridge(db, settings)
    add_web_user(db, account.cif, ACCOUNTANT, "accountant")
    add_web_user(db, account.cif, VIEWER, "viewer")
    obj = checkout_session(pi="pi_web_missing", amount=12100, metadata={"product_name": "Carte"},
                           customer={"name": None, "address": address(None, "Codlea", None, None, "RO")})
    assert deliver(client, event("checkout.session.completed", obj, event_id="evt_web_1")).status_code == 200
    run_worker(db, settings)
    assert invoices(db) == []

    with TestClient(client.app) as viewer:
        viewer_csrf = logged_in(viewer, VIEWER)
        page = viewer.get("/bridge/events").text
        assert "evt_web_1" in page and "checkout.session.completed" in page and "Eșuat" in page
        assert "<code>buyer.county</code>" in page and "/retry" not in page  # a viewer only reads
        inbox_id = int(re.search(r'id="event-(\d+)"', page).group(1))
        r = viewer.post(f"/bridge/events/{inbox_id}/retry", data={"csrf_token": viewer_csrf, "buyer.name": "X"})
        assert r.status_code == 403

    csrf = logged_in(client, ACCOUNTANT)
    page = client.get("/bridge/events", params={"status": "failed", "provider": "stripe"}).text
    fields = re.findall(r"<code>(buyer\.\w+)</code>", page)
    assert fields == ["buyer.name", "buyer.address", "buyer.county"]
    assert f'action="/bridge/events/{inbox_id}/retry"' in page
    assert client.post(f"/bridge/events/{inbox_id}/retry", data={"buyer.name": "Ana Pop"}).status_code == 403
    # a retry with one field still missing fails again and says which
    r = client.post(f"/bridge/events/{inbox_id}/retry", data={"csrf_token": csrf, "buyer.name": "Ana Pop"})
    assert 'class="flash error"' in r.text and "buyer.county" in r.text
    assert invoices(db) == []
    r = client.post(f"/bridge/events/{inbox_id}/retry", data={
        "csrf_token": csrf, "buyer.line1": "Str. Lunga 1", "buyer.state": "Brasov"})
    assert 'class="flash ok"' in r.text and "done" in r.text, r.text
    (doc,) = invoices(db)
    assert doc.buyer["name"] == "Ana Pop" and doc.buyer["county"] == "Brașov"
    assert re.search(rf'<a href="/documents/{doc.id}">FCT0001</a>', r.text)
    assert client.get("/bridge/events", params={"status": "failed"}).text.count('id="event-') == 0
    assert "Procesat" in client.get("/bridge/events", params={"status": "done"}).text
