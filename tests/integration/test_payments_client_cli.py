"""The SmartBill client (sync over HTTP, async in process) driving punte's payment operations, and the
operator's ``punte cash`` commands."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from punte.smartbill.client import InvoiceRef, PaymentRequest
from punte.smartbill.errors import ValidationError
from punte.smartbill.wire import ClientData
from tests.conftest import Account
from tests.integration.test_cli import cli_env, run  # noqa: F401 - the fixture is used by name
from tests.integration.test_payments_api import BON, CLIENT, TODAY
from tests.integration.test_smartbill_client import app, invoice, sb  # noqa: F401 - fixtures used by name


def test_client_records_lists_and_deletes_payments_on_punte(sb: Any, account: Account) -> None:  # noqa: F811
    sb.invoices.create(invoice())
    receipt = sb.payments.create(PaymentRequest(
        companyVatCode=account.cif, client=ClientData.model_validate(CLIENT), issueDate=TODAY, seriesName="CH",
        value=Decimal(4), type="Chitanta", isCash=True, invoicesList=[InvoiceRef(seriesName="FCT", number="0001")],
    ))
    assert (receipt.series, receipt.number) == ("CH", "0001")
    status = sb.invoices.payment_status(account.cif, "FCT", "0001")
    assert (status.paidAmount, status.unpaidAmount) == (Decimal(4), Decimal(6))
    bon = sb.payments.create({"companyVatCode": account.cif, **BON})
    assert bon.number == "0001" and base64.b64decode(bon.message).startswith(b"S,1,______,_,__;Produs 1;")
    assert sb.payments.text(account.cif, bon.id).message == bon.message
    assert sb.cash.balance(account.cif).balance == Decimal(9)  # 4 receipt + 5 cash of the fiscal receipt
    sb.payments.create({"companyVatCode": account.cif, "client": CLIENT, "type": "Ordin plata", "value": 6,
                        "invoicesList": [{"seriesName": "FCT", "number": "0001"}]})
    assert sb.invoices.payment_status(account.cif, "FCT", "0001").paid is True
    sb.payments.delete_by_invoice(account.cif, "Ordin plata", "FCT", "0001")
    sb.payments.delete_receipt(account.cif, "CH", "0001")
    assert sb.invoices.payment_status(account.cif, "FCT", "0001").paidAmount == 0
    with pytest.raises(ValidationError, match="Nu au fost gasite incasari conform datelor specificate."):
        sb.payments.delete_by_payment(account.cif, "Card", TODAY, Decimal(4), client_cif="RO14399840")
    operation = sb.cash.operation({"companyVatCode": account.cif, "type": "plata", "value": 5, "text": "Depunere banca"})
    assert operation.balance == 0 and operation.movement.kind == "Alta plata"
    register = sb.cash.movements(account.cif)
    assert [m.value for m in register.movements] == [4, 5, -4, -5] and register.closingBalance == 0


def test_client_reads_which_invoices_were_made_from_a_proforma(sb: Any, account: Account) -> None:  # noqa: F811
    sb.estimates.create(invoice(seriesName="PRF"))
    assert sb.estimates.invoices(account.cif, "PRF", "0001").areInvoicesCreated is False
    sb.invoices.create({"companyVatCode": account.cif, "seriesName": "FCT", "useEstimateDetails": True,
                        "estimate": {"seriesName": "PRF", "number": "0001"}})
    made = sb.estimates.invoices(account.cif, "PRF", "0001")
    assert made.areInvoicesCreated and [(i.series, i.number) for i in made.invoices] == [("FCT", "0001")]
    draft = sb.payments.create({"companyVatCode": account.cif, "client": CLIENT, "type": "Chitanta", "value": 1,
                                "isDraft": True})
    assert draft.number == "" and sb.payments.issue(account.cif, draft.id).number == "0001"


def test_operator_corrects_the_cash_register_from_the_command_line(cli_env: Path) -> None:  # noqa: F811
    assert run("company", "add", "--cif", "RO18547290", "--name", "Firma SRL").exit_code == 0
    r = run("cash", "add", "--cif", "RO18547290", "--type", "incasare", "--value", "100", "--date", "2026-01-05",
            "--text", "Sold initial")
    assert r.exit_code == 0, r.output
    assert "balance 100.00 RON" in r.output
    assert run("cash", "add", "--cif", "RO18547290", "--type", "plata", "--value", "30.5", "--date", "2026-01-06").exit_code == 0
    r = run("cash", "add", "--cif", "RO18547290", "--type", "plata", "--value", "1000")
    assert r.exit_code == 1 and "nu acopera plata de 1000.00" in r.output
    assert run("cash", "balance", "--cif", "RO18547290").output.strip() == "69.50 RON"
    assert run("cash", "balance", "--cif", "RO18547290", "--date", "2026-01-05").output.strip() == "100.00 RON"
    listing = run("cash", "list", "--cif", "RO18547290", "--from", "2026-01-01", "--to", "2026-01-31")
    assert listing.exit_code == 0 and "Sold initial" in listing.output and "69.50" in listing.output
