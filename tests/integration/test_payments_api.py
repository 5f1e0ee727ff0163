"""Payments (SmartBill "Incasari") and the proforma -> invoices listing, through the HTTP API, on SQLite and
PostgreSQL: every payment type, receipts and fiscal receipts, several invoices, the rules of SmartBill's
FAQ and reference, deletes, and the cash register they feed."""

from __future__ import annotations

import base64
import copy
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text

from punte.domain.errors import DomainError
from punte.services.issuing import today_in_romania
from punte.store.models import Document, Event, Payment
from punte.store.models_payments import CashMovement
from tests.conftest import Account
from tests.integration.test_invoice_api import SEED_INVOICE, body

TODAY = today_in_romania().isoformat()
API = "/SBORO/api"
CLIENT = copy.deepcopy(SEED_INVOICE["client"])
OTHER_CLIENT = {**CLIENT, "name": "Alt Client SRL", "vatCode": "RO18547290"}


def invoice(http, account: Account, price: Any = 10, **changes: Any) -> str:  # type: ignore[no-untyped-def]
    data = body(**changes)
    data["products"][0]["price"] = price
    r = http.post(API + "/invoice", headers=account.headers, json=data)
    assert r.status_code == 200, r.text
    return r.json()["number"]


def pay(http, account: Account, **fields: Any):  # type: ignore[no-untyped-def]
    data: dict[str, Any] = {"companyVatCode": account.cif, "client": CLIENT, "issueDate": TODAY, "precision": 2,
                            "isDraft": False, "isCash": False}
    data.update(fields)
    return http.post(API + "/payment", headers=account.headers, json=data)


def status(client, account: Account, number: str = "0001") -> dict[str, Any]:  # type: ignore[no-untyped-def]
    r = client.get(API + "/invoice/paymentstatus", headers=account.headers,
                   params={"cif": account.cif, "seriesname": "FCT", "number": number})
    assert r.status_code == 200, r.text
    return r.json()


def balance(client, account: Account, **params: str) -> Decimal:  # type: ignore[no-untyped-def]
    r = client.get(API + "/cash/balance", headers=account.headers, params={"cif": account.cif, **params})
    assert r.status_code == 200, r.text
    return Decimal(str(r.json()["balance"]))


def error(r) -> str:  # type: ignore[no-untyped-def]
    assert r.status_code == 400, (r.status_code, r.text)
    return r.json()["errorText"]


BON = {  # the seed's "Incasare cu bon fiscal cu returnarea continutului" (21%: 19% ended on 31 Jul 2025)
    "type": "Bon", "value": 10, "returnFiscalPrinterText": True, "observation": "obs", "useStock": False,
    "products": [{"name": "Produs 1", "isDiscount": False, "measuringUnitName": "buc", "currency": "RON",
                  "quantity": 1, "price": 10, "isTaxIncluded": True, "taxName": "Normala", "taxPercentage": 21,
                  "saveToDb": False, "isService": False}],
    "receivedCash": 5, "receivedCard": 5, "receivedTicheteMasa": 0, "receivedTicheteCadou": 0,
    "receivedOrdinDePlata": 0, "receivedCec": 0, "receivedCredit": 0, "receivedCupon": 0,
    "receivedPuncteDeFidelitate": 0, "receivedBonuriValoareFixa": 0, "receivedMonedaAlternativa": 0,
}


def bon(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(BON)
    data.update(changes)
    return data


# ---- receipts and payments against invoices -------------------------------------------------------------------


def test_receipt_for_an_issued_invoice_takes_the_next_receipt_number(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    r = pay(client, account, currency="RON", seriesName="CH", value=10, text="excursie in Grecia", type="Chitanta",
            isCash=True, useInvoiceDetails=False, invoicesList=[{"seriesName": "FCT", "number": "0001"}])
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["errorText"], answer["number"], answer["series"], answer["message"]) == ("", "0001", "CH", "")
    assert status(client, account) == {
        "errorText": "", "message": "", "number": "0001", "series": "FCT", "invoiceTotalAmount": 10,
        "paidAmount": 10, "unpaidAmount": 0, "paid": True,
    }
    second = pay(client, account, value=3, type="Chitanta", text="avans")  # default receipt series, standalone
    assert (second.json()["series"], second.json()["number"]) == ("CH", "0002")


def test_partial_payments_add_up_until_the_invoice_is_paid(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account, price="100.50")
    assert pay(client, account, type="Ordin plata", value=40, invoicesList=[{"seriesName": "FCT", "number": "1"}]).status_code == 200
    partial = status(client, account)
    assert (partial["paidAmount"], partial["unpaidAmount"], partial["paid"]) == (40, 60.5, False)
    assert pay(client, account, type="Card", value="60.50", invoicesList=[{"seriesName": "FCT", "number": "0001"}]).status_code == 200
    full = status(client, account)
    assert (full["paidAmount"], full["unpaidAmount"], full["paid"]) == (100.5, 0, True)


def test_overpayment_is_refused_and_changes_nothing(client, account, db) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    r = pay(client, account, type="Chitanta", value="10.01", invoicesList=[{"seriesName": "FCT", "number": "0001"}])
    assert error(r) == "Valoarea incasarii (10.01) depaseste suma de incasat pe facturi (10.00)."
    assert status(client, account)["paidAmount"] == 0
    with db.session() as session:
        assert session.scalar(select(Payment)) is None
    series = client.get(API + "/series", headers=account.headers, params={"cif": account.cif, "type": "c"}).json()
    assert series["list"][0]["nextNumber"] == "0001"
    assert balance(client, account) == 0


def test_every_payment_type_is_recorded_standalone(client, account) -> None:  # type: ignore[no-untyped-def]
    types = ["Card", "Card online", "Cec", "CEC", "Bilet ordin", "Ordin plata", "Mandat postal", "Extras de cont",
             "Ramburs", "Alta incasare"]
    for ptype in types:
        r = pay(client, account, precision=2, value=14, type=ptype, isCash=False)
        assert r.status_code == 200, (ptype, r.text)
        assert (r.json()["number"], r.json()["series"], r.json()["errorText"]) == ("", "", "")
    assert balance(client, account) == 0  # none of them was cash
    assert error(pay(client, account, value=14, type="Bitcoin")) == "Tipul incasarii nu a fost gasit!"
    assert error(pay(client, account, value=14)) == "Tipul incasarii trebuie specificat."
    assert error(pay(client, account, type="Card")) == "Valoarea incasarii trebuie specificata."
    assert error(pay(client, account, type="Card", value=0)) == "Valoarea incasarii trebuie sa fie pozitiva."
    assert error(pay(client, account, type="Card", value="1.234")) == "Valoarea incasarii poate avea cel mult 2 zecimale in RON."
    assert error(pay(client, account, type="Card", value=1, client={"name": " "})) == "Client invalid!"
    assert error(pay(client, account, type="Card", value=1, issueDate="02.03.2026")) == (
        "Data documentului trebuie sa fie de forma yyyy-MM-dd.")


def test_receipt_series_must_exist_and_be_a_receipt_series(client, account, db) -> None:  # type: ignore[no-untyped-def]
    assert error(pay(client, account, type="Chitanta", value=5, seriesName="FCT")) == "Seria nu poate fi folosita la chitante."
    assert error(pay(client, account, type="Chitanta", value=5, seriesName="XYZ")) == (
        "Seria nu a fost gasita! Folositi o serie creata in contul de cloud.")
    from punte.services.companies import add_series, get_company

    with db.session(write=True) as session:
        add_series(session, get_company(session, account.cif), type="c", name="CHX", next_number=41, padding=6, actor="t")
    r = pay(client, account, type="Chitanta", value=5, seriesName="CHX")
    assert (r.json()["series"], r.json()["number"]) == ("CHX", "000041")


def test_one_receipt_covers_several_invoices_of_one_client_in_order(client, account, db) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account, price=10)
    invoice(client, account, price=20)
    refs = [{"seriesName": "FCT", "number": "0002"}, {"seriesName": "FCT", "number": "0001"}]
    r = pay(client, account, type="Chitanta", value=25, invoicesList=refs)
    assert r.status_code == 200, r.text
    assert (status(client, account, "0002")["paid"], status(client, account, "0002")["paidAmount"]) == (True, 20)
    assert (status(client, account, "0001")["paidAmount"], status(client, account, "0001")["unpaidAmount"]) == (5, 5)
    # the second invoice of the receipt cannot be deleted while the receipt stands
    r = client.delete(API + "/invoice", headers=account.headers, params={"cif": account.cif, "seriesName": "FCT", "number": "0002"})
    assert error(r) == "Factura FCT0002 are incasari. Stergeti intai incasarile."
    from punte.services.payments import paid_amounts

    with db.session() as session:
        ids = {d.number_text: d.id for d in session.scalars(select(Document))}
        assert paid_amounts(session, [ids["0001"], ids["0002"]]) == {ids["0001"]: Decimal(5), ids["0002"]: Decimal(20)}
    many = [{"seriesName": "FCT", "number": "0001"}, {"seriesName": "FCT", "number": "0002"}]
    assert error(pay(client, account, type="Card", value=1, invoicesList=many)) == (
        "Valoarea incasarii se epuizeaza inaintea facturii FCT0002; scoateti-o din lista.")


def test_invoices_of_several_clients_cannot_share_a_payment(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    invoice(client, account, client=OTHER_CLIENT)
    both = [{"seriesName": "FCT", "number": "0001"}, {"seriesName": "FCT", "number": "0002"}]
    r = pay(client, account, type="Chitanta", value=20, invoicesList=both, client=None)
    assert error(r) == "Nu puteti emite o incasare pentru facturi de la mai multi clienti."


def test_client_identity_is_compared_exactly_cif_case_included(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    invoice(client, account, client={**CLIENT, "vatCode": "ro14399840"})  # the same company, CIF written otherwise
    both = [{"seriesName": "FCT", "number": "0001"}, {"seriesName": "FCT", "number": "0002"}]
    assert error(pay(client, account, type="Card", value=20, invoicesList=both)) == (
        "Nu puteti emite o incasare pentru facturi de la mai multi clienti.")
    one = [{"seriesName": "FCT", "number": "0001"}]
    r = pay(client, account, type="Card", value=5, invoicesList=one, client={**CLIENT, "name": "Client Exemplu S.R.L."})
    assert error(r) == "Clientul facturii FCT0001 nu corespunde cu clientul incasarii!"
    r = pay(client, account, type="Card", value=5, invoicesList=one, client={**CLIENT, "vatCode": "14399840"})
    assert error(r) == "Clientul facturii FCT0001 nu corespunde cu clientul incasarii!"
    assert pay(client, account, type="Card", value=5, invoicesList=one).status_code == 200  # same client: accepted


def test_cancelled_or_draft_invoice_cannot_be_collected(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    client.put(API + "/invoice/cancel", headers=account.headers,
               params={"cif": account.cif, "seriesName": "FCT", "number": "0001"}).raise_for_status()
    r = pay(client, account, type="Chitanta", value=10, invoicesList=[{"seriesName": "FCT", "number": "0001"}])
    assert error(r) == ("Factura FCT0001 este anulata, nu o puteti incasa. Restaurati intai factura sau emiteti "
                        "incasarea independent de factura.")
    draft = client.post(API + "/invoice/v2", headers=account.headers, json=body(isDraft=True)).json()
    assert draft["number"] == ""
    r = pay(client, account, type="Card", useInvoiceDetails=True, invoicesList={"seriesName": "FCT", "number": "0002"})
    assert error(r) == "Factura nu a fost gasita!"


def test_use_invoice_details_collects_the_whole_invoice_in_its_currency(client, account, db) -> None:  # type: ignore[no-untyped-def]
    data = body(currency="EUR", exchangeRate="4.9750")
    data["products"][0].update(currency="EUR", price="100")
    client.post(API + "/invoice", headers=account.headers, json=data).raise_for_status()
    seed = {"companyVatCode": account.cif, "issueDate": TODAY, "type": "Ordin plata", "isCash": False,
            "useInvoiceDetails": True, "invoicesList": {"seriesName": "FCT", "number": "0001"}}
    r = client.post(API + "/payment", headers=account.headers, json=seed)
    assert r.status_code == 200, r.text
    assert status(client, account)["paid"] is True
    with db.session() as session:
        payment = session.scalar(select(Payment))
        assert (payment.currency, payment.value, payment.exchange_rate) == ("EUR", Decimal("100"), Decimal("4.975"))
        assert payment.client_name == "Client Exemplu SRL" and payment.client_cif == "RO14399840"
    assert error(pay(client, account, type="Card", useInvoiceDetails=True, invoicesList=[
        {"seriesName": "FCT", "number": "0001"}, {"seriesName": "FCT", "number": "0002"}])) == "Trebuie specificata doar o factura!"
    assert error(pay(client, account, type="Card", useInvoiceDetails=True)) == (
        "Pentru emiterea unei incasari cu datele de pe factura trebuie specificate seria si numarul facturii.")
    assert error(pay(client, account, type="Card", invoicesList=[{"seriesName": "FCT", "number": "0001"}])) == (
        "Pentru emiterea unei incasari cu datele de pe factura trebuie specificat useInvoiceDetails cu valoarea true.")


def test_payment_is_in_the_invoice_currency_and_language(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    one = [{"seriesName": "FCT", "number": "0001"}]
    assert error(pay(client, account, type="Card", value=5, currency="EUR", invoicesList=one)) == (
        "Moneda facturii FCT0001 nu corespunde cu moneda incasarii!")
    assert error(pay(client, account, type="Card", value=5, language="EN", invoicesList=one)) == (
        "Limba facturii FCT0001 nu corespunde cu limba incasarii!")
    assert error(pay(client, account, type="Card", value=5, currency="XYZ")) == "Moneda nu a fost gasita pe server!"


# ---- fiscal receipts ------------------------------------------------------------------------------------------------


def test_fiscal_receipt_answers_the_printer_text_in_base64_and_keeps_it(client, account) -> None:  # type: ignore[no-untyped-def]
    r = pay(client, account, **bon())
    assert r.status_code == 200, r.text
    answer = r.json()
    assert (answer["number"], answer["series"], answer["errorText"]) == ("0001", "", "")
    printed = base64.b64decode(answer["message"]).decode("ascii")
    assert printed == ("S,1,______,_,__;Produs 1;10.00;1.000;1;1;1;0;0;\r\n"
                       "T,1,______,_,__;0;5.00;;;;\r\nT,1,______,_,__;1;5.00;;;;\r\n")
    again = client.get(API + "/payment/text", headers=account.headers, params={"cif": account.cif, "id": answer["id"]})
    assert again.status_code == 200 and again.json() == {"errorText": "", "message": answer["message"]}
    assert balance(client, account) == 5  # only the cash part enters the register


def test_fiscal_receipt_without_returned_text_still_stores_it(client, account) -> None:  # type: ignore[no-untyped-def]
    r = pay(client, account, **bon(returnFiscalPrinterText=False, receivedCash=20, receivedCard=0))
    answer = r.json()
    assert (answer["message"], answer["number"]) == ("", "0001")
    text_answer = client.get(API + "/payment/text", headers=account.headers, params={"cif": account.cif, "id": answer["id"]})
    assert base64.b64decode(text_answer.json()["message"]).endswith(b"T,1,______,_,__;0;20.00;;;;\r\n")
    assert balance(client, account) == 10  # 20 received in cash, 10 given back
    assert pay(client, account, **bon()).json()["number"] == "0002"


def test_fiscal_receipt_with_a_percentage_discount(client, account) -> None:  # type: ignore[no-untyped-def]
    discount = {"name": "Discount procentual 10%", "isDiscount": True, "numberOfItems": 1, "measuringUnitName": "buc",
                "currency": "RON", "isTaxIncluded": True, "taxName": "Normala", "taxPercentage": 21,
                "discountPercentage": 10}
    data = bon(value=9, returnFiscalPrinterText=True, receivedCash=5, receivedCard=4)
    data["products"] = [data["products"][0], discount]
    r = pay(client, account, **data)
    assert r.status_code == 200, r.text
    assert base64.b64decode(r.json()["message"]).startswith(b"S,1,______,_,__;Produs 1;10.00;1.000;1;1;1;2;10.00;\r\n")
    data["products"][0]["price"] = 355  # the seed's own figures do not add up: 355 - 10% is not 9
    assert error(pay(client, account, **data)) == "Valoarea incasarii (9) nu corespunde cu totalul bonului (319.50)."
    valoric = {**discount, "discountType": 1, "discountValue": -1, "discountPercentage": None}
    data["products"] = [data["products"][0], valoric]
    assert error(pay(client, account, **data)) == "Discountul nu poate fi de tip valoric!"


def test_fiscal_receipt_rules(client, account) -> None:  # type: ignore[no-untyped-def]
    assert error(pay(client, account, **bon(currency="EUR"))) == "Bonurile fiscale pot fi emise doar in Lei!"
    assert error(pay(client, account, **bon(receivedCash=0, receivedCard=11))) == (
        "Sumele incasate fara numerar (11.00) depasesc totalul bonului (10.00).")
    assert error(pay(client, account, **bon(receivedCash=2, receivedCard=5))) == (
        "Sumele incasate (7.00) nu acopera totalul bonului (10.00).")
    assert error(pay(client, account, **bon(products=[]))) == "Bonul nu contine produse!"
    too_many = bon(value=None, products=[BON["products"][0]] * 71)
    assert error(pay(client, account, **too_many)) == "Numarul maxim acceptat de 70 intrari pe document a fost depasit."
    unknown = client.get(API + "/payment/text", headers=account.headers, params={"cif": account.cif, "id": "999"})
    assert error(unknown) == "Nu puteti vizualiza documentul"


def test_fiscal_receipt_for_an_invoice_prints_one_item_per_vat_rate(client, account) -> None:  # type: ignore[no-untyped-def]
    data = body()
    data["products"].append({**data["products"][0], "name": "Carte", "taxName": "Redusa", "taxPercentage": 11,
                             "price": 20})
    client.post(API + "/invoice", headers=account.headers, json=data).raise_for_status()
    r = pay(client, account, type="Bon", value=30, returnFiscalPrinterText=True,
            invoicesList=[{"seriesName": "FCT", "number": "0001"}])
    assert r.status_code == 200, r.text
    lines = base64.b64decode(r.json()["message"]).decode().split("\r\n")
    assert lines[:3] == ["S,1,______,_,__;Factura FCT0001 TVA 21%;10.00;1.000;1;1;1;0;0;",
                         "S,1,______,_,__;Factura FCT0001 TVA 11%;20.00;1.000;1;1;2;0;0;",
                         "T,1,______,_,__;0;30.00;;;;"]
    assert status(client, account)["paid"] is True and balance(client, account) == 30


# ---- the cash register -------------------------------------------------------------------------------------------


def test_cash_payments_go_into_the_cash_register(client, account) -> None:  # type: ignore[no-untyped-def]
    pay(client, account, type="Chitanta", value=10, isCash=False).raise_for_status()  # a receipt is cash anyway
    pay(client, account, type="Card", value=7).raise_for_status()
    pay(client, account, type="Alta incasare", value="2.50", isCash=True).raise_for_status()
    pay(client, account, type="Alta incasare", value=4, isCash=True, currency="EUR").raise_for_status()
    assert balance(client, account) == Decimal("12.50")
    assert balance(client, account, currency="EUR") == 4
    report = client.get(API + "/cash/movements", headers=account.headers, params={"cif": account.cif}).json()
    assert [(m["kind"], m["document"], m["value"], m["balance"]) for m in report["movements"]] == [
        ("Incasare", "CH0001", 10, 10), ("Incasare", "Alta incasare", 2.5, 12.5)]
    assert (report["openingBalance"], report["closingBalance"]) == (0, 12.5)


def test_manual_cash_operations_correct_the_balance(client, account) -> None:  # type: ignore[no-untyped-def]
    def operation(**fields: Any):  # type: ignore[no-untyped-def]
        return client.post(API + "/cash/operation", headers=account.headers,
                           json={"companyVatCode": account.cif, **fields})

    r = operation(type="incasare", value=100, text="Sold initial", issueDate="2026-01-05")
    assert r.status_code == 200, r.text
    assert r.json()["movement"]["kind"] == "Alta incasare" and r.json()["balance"] == 100
    assert operation(type="plata", value="30.25", issueDate="2026-01-06").json()["balance"] == 69.75
    assert error(operation(type="plata", value=70)) == "Soldul casei in RON (69.75) nu acopera plata de 70.00."
    assert error(operation(type="transfer", value=1)) == "Tipul operatiunii de casa trebuie sa fie 'incasare' sau 'plata'."
    assert error(operation(type="plata", value=-1)) == (
        "Valoarea operatiunii de casa trebuie sa fie pozitiva, cu cel mult doua zecimale.")
    assert balance(client, account) == Decimal("69.75")
    assert balance(client, account, date="2026-01-05") == 100
    assert balance(client, account, date="2026-01-04") == 0
    report = client.get(API + "/cash/movements", headers=account.headers,
                        params={"cif": account.cif, "from": "2026-01-06", "to": "2026-01-31"}).json()
    assert (report["openingBalance"], report["closingBalance"], len(report["movements"])) == (100, 69.75, 1)


def test_cash_movements_are_append_only(client, account, db) -> None:  # type: ignore[no-untyped-def]
    pay(client, account, type="Chitanta", value=10).raise_for_status()
    for statement in ("UPDATE cash_movements SET amount = '1'", "DELETE FROM cash_movements"):
        with pytest.raises(Exception, match="append-only"), db.session(write=True) as session:
            session.execute(text(statement))
    with db.session() as session:
        assert session.scalar(select(CashMovement.amount)) == Decimal("10")


# ---- deletes ---------------------------------------------------------------------------------------------------


def test_only_the_last_receipt_is_deleted_and_its_number_goes_back(client, account, db) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    pay(client, account, type="Chitanta", value=4, invoicesList=[{"seriesName": "FCT", "number": "0001"}]).raise_for_status()
    pay(client, account, type="Chitanta", value=6, invoicesList=[{"seriesName": "FCT", "number": "0001"}]).raise_for_status()
    params = {"cif": account.cif, "seriesName": "CH", "number": "0001"}
    r = client.delete(API + "/payment/chitanta", headers=account.headers, params=params)
    assert error(r) == "Documentul cu seria si numarul CH 0001 nu este ultimul din serie!"
    r = client.delete(API + "/payment/chitanta", headers=account.headers, params={**params, "number": "0002"})
    assert r.status_code == 200 and (r.json()["series"], r.json()["number"]) == ("CH", "0002")
    assert (status(client, account)["paidAmount"], balance(client, account)) == (4, 4)
    report = client.get(API + "/cash/movements", headers=account.headers, params={"cif": account.cif}).json()
    assert [(m["kind"], m["value"]) for m in report["movements"]][-1] == ("Stornare incasare", -6)
    assert pay(client, account, type="Chitanta", value=6).json()["number"] == "0002"  # the number was given back
    r = client.delete(API + "/payment/chitanta", headers=account.headers, params={**params, "number": "0009"})
    assert error(r) == "Chitanta nu a fost gasita."
    with db.session() as session:
        deleted = session.scalars(select(Event).where(Event.entity == "payment", Event.action == "deleted")).all()
        assert [(e.data["series"], e.data["number"], e.data["value"]) for e in deleted] == [("CH", "0002", "6.00")]


def test_other_payment_is_deleted_by_its_invoice(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    pay(client, account, type="Ordin plata", value=10, invoicesList=[{"seriesName": "FCT", "number": "0001"}]).raise_for_status()

    def delete(**params: str):  # type: ignore[no-untyped-def]
        return client.delete(API + "/payment/v2", headers=account.headers, params={"cif": account.cif, **params})

    assert error(delete(invoiceSeries="FCT", invoiceNumber="0001")) == "Tipul incasarii (paymentType) trebuie specificat."
    assert error(delete(paymentType="Ordin plata", invoiceNumber="0001")) == (
        "Seria facturii (invoiceSeries) trebuie specificata pentru identificarea incasarii.")
    assert error(delete(paymentType="Ordin plata", invoiceSeries="FCT")) == (
        "Numarul facturii (invoiceNumber) trebuie specificat pentru identificarea incasarii.")
    assert error(delete(paymentType="Ordin plata", invoiceSeries="FCT", invoiceNumber="0046")) == (
        "Factura cu seria si numarul FCT0046 nu a fost gasita!")
    assert error(delete(paymentType="Card", invoiceSeries="FCT", invoiceNumber="0001")) == (
        "Nu au fost gasite incasari conform datelor specificate.")
    assert delete(paymentType="Ordin plata", invoiceSeries="FCT", invoiceNumber="0001").status_code == 200
    assert status(client, account)["paidAmount"] == 0
    client.put(API + "/invoice/cancel", headers=account.headers,
               params={"cif": account.cif, "seriesName": "FCT", "number": "0001"}).raise_for_status()
    assert error(delete(paymentType="Ordin plata", invoiceSeries="FCT", invoiceNumber="0001")) == (
        "Factura cu seria si numarul FCT0001 este anulata si nu mai are incasari atasate!")


def test_other_payment_is_deleted_by_its_data(client, account) -> None:  # type: ignore[no-untyped-def]
    person = {"name": "Ion Popescu", "vatCode": "", "address": "Str. 1", "city": "Cluj-Napoca", "county": "Cluj"}
    pay(client, account, type="Ordin plata", value=14).raise_for_status()
    pay(client, account, type="Ordin plata", value=14, client=person).raise_for_status()
    pay(client, account, type="Mandat postal", value=14, isCash=True).raise_for_status()

    def delete(**params: str):  # type: ignore[no-untyped-def]
        return client.delete(API + "/payment/v2", headers=account.headers, params={"cif": account.cif, **params})

    base = {"paymentType": "Ordin plata", "paymentDate": TODAY, "paymentValue": "14"}
    assert error(delete(paymentType="Ordin plata")) == "Data incasarii (paymentDate) trebuie specificata"
    assert error(delete(paymentType="Ordin plata", paymentDate=TODAY)) == "Valoarea incasarii (paymentValue) trebuie specificata."
    assert error(delete(**base)) == "Numele clientului incasarii (clientName) trebuie specificat."
    assert error(delete(**base, clientName="Client Exemplu SRL")) == "Ciful clientului incasarii (clientCif) trebuie specificat."
    assert error(delete(**base, clientCif="14399840")) == "Nu au fost gasite incasari conform datelor specificate."
    assert delete(**base, clientCif="RO14399840").status_code == 200
    assert delete(**base, clientName="Ion Popescu").status_code == 200
    assert error(delete(**base, clientName="Ion Popescu")) == "Nu au fost gasite incasari conform datelor specificate."
    assert balance(client, account) == 14
    assert delete(**{**base, "paymentType": "Mandat postal"}, clientCif="RO14399840").status_code == 200
    assert balance(client, account) == 0  # the cash payment was reversed
    r = delete(**{**base, "paymentType": "Chitanta"}, clientCif="RO14399840")
    assert "nu se sterg prin aceasta metoda" in error(r)


# ---- drafts, invoice issue, quota hook, idempotency, events ----------------------------------------------------------


def test_draft_receipt_gets_its_number_when_issued(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    r = pay(client, account, type="Chitanta", value=10, isDraft=True, invoicesList=[{"seriesName": "FCT", "number": "0001"}])
    draft = r.json()
    assert (draft["series"], draft["number"]) == ("CH", "") and draft["id"]
    assert status(client, account)["paidAmount"] == 0 and balance(client, account) == 0
    issued = client.put(API + "/payment/issue", headers=account.headers, params={"cif": account.cif, "id": draft["id"]})
    assert issued.status_code == 200 and (issued.json()["series"], issued.json()["number"]) == ("CH", "0001")
    assert status(client, account)["paid"] is True and balance(client, account) == 10
    again = client.put(API + "/payment/issue", headers=account.headers, params={"cif": account.cif, "id": draft["id"]})
    assert error(again) == f"Chitanta ciorna {draft['id']} nu a fost gasita."


def test_a_draft_receipt_can_be_deleted_and_then_its_invoice_too(client, account) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    draft = pay(client, account, type="Chitanta", value=10, isDraft=True,
                invoicesList=[{"seriesName": "FCT", "number": "0001"}]).json()
    params = {"cif": account.cif, "seriesName": "FCT", "number": "0001"}
    assert error(client.delete(API + "/invoice", headers=account.headers, params=params)) == (
        "Factura FCT0001 are incasari. Stergeti intai incasarile.")
    r = client.delete(API + "/payment/chitanta", headers=account.headers, params={"cif": account.cif, "id": draft["id"]})
    assert r.status_code == 200, r.text
    assert client.delete(API + "/invoice", headers=account.headers, params=params).status_code == 200


def test_payment_at_invoice_issue_is_a_receipt_with_its_cash(client, account) -> None:  # type: ignore[no-untyped-def]
    data = body(payment={"value": 10, "paymentSeries": "CH", "type": "Chitanta", "isCash": True})
    client.post(API + "/invoice", headers=account.headers, json=data).raise_for_status()
    assert status(client, account)["paid"] is True and balance(client, account) == 10
    r = client.delete(API + "/payment/chitanta", headers=account.headers,
                      params={"cif": account.cif, "seriesName": "CH", "number": "1"})
    assert r.status_code == 200 and status(client, account)["paid"] is False and balance(client, account) == 0
    bad = body(payment={"value": 10, "paymentSeries": "ZZ", "type": "Chitanta"})
    assert error(client.post(API + "/invoice", headers=account.headers, json=bad)) == "Seria incasarii nu a fost gasita pe server."


def test_every_payment_asks_the_quota_and_receipts_before_taking_a_number(client, account, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from punte.services import lifecycle

    asked: list[str] = []

    def full(session, company, *, kind: str, count: int = 1) -> None:  # type: ignore[no-untyped-def]
        asked.append(kind)
        raise DomainError("Ati atins limita de documente.")

    monkeypatch.setattr(lifecycle, "before_issue", full)
    assert error(pay(client, account, type="Chitanta", value=5)) == "Ati atins limita de documente."
    assert error(pay(client, account, **bon())) == "Ati atins limita de documente."
    assert error(pay(client, account, type="Card", value=5)) == "Ati atins limita de documente."  # counts too
    assert asked == ["receipt", "receipt", "payment"]
    monkeypatch.undo()
    assert pay(client, account, type="Chitanta", value=5).json()["number"] == "0001"


def test_a_retried_payment_with_the_same_idempotency_key_is_recorded_once(client, account, db) -> None:  # type: ignore[no-untyped-def]
    data = {"companyVatCode": account.cif, "client": CLIENT, "type": "Chitanta", "value": 10}
    headers = {**account.headers, "Idempotency-Key": "plata-42"}
    first = client.post(API + "/payment", headers=headers, json=data)
    second = client.post(API + "/payment", headers=headers, json=data)
    assert first.json() == second.json() and second.headers["Idempotency-Replayed"] == "true"
    with db.session() as session:
        assert len(session.scalars(select(Payment)).all()) == 1
    assert balance(client, account) == 10


def test_every_payment_change_writes_an_event(client, account, db) -> None:  # type: ignore[no-untyped-def]
    invoice(client, account)
    pay(client, account, type="Chitanta", value=10, invoicesList=[{"seriesName": "FCT", "number": "0001"}]).raise_for_status()
    client.post(API + "/cash/operation", headers=account.headers,
                json={"companyVatCode": account.cif, "type": "plata", "value": 1}).raise_for_status()
    client.delete(API + "/payment/chitanta", headers=account.headers,
                  params={"cif": account.cif, "seriesName": "CH", "number": "0001"}).raise_for_status()
    with db.session() as session:
        rows = session.scalars(select(Event).where(Event.entity.in_(["payment", "cash_movement"])).order_by(Event.id))
        assert [(e.entity, e.action) for e in rows] == [
            ("payment", "collected"), ("cash_movement", "payment"), ("cash_movement", "manual_out"),
            ("payment", "deleted"), ("cash_movement", "payment_reversal"),
        ]
        collected = session.scalars(select(Event).where(Event.action == "collected")).one()
        assert collected.data["invoices"] == [{"id": collected.data["document_id"], "invoice": "FCT0001", "amount": "10.00"}]


# ---- proforma -> invoices --------------------------------------------------------------------------------------------


def test_estimate_invoices_lists_the_invoices_made_from_a_proforma(client, account) -> None:  # type: ignore[no-untyped-def]
    client.post(API + "/estimate", headers=account.headers, json=body(seriesName="PRF")).raise_for_status()
    params = {"cif": account.cif, "seriesName": "PRF", "number": "0001"}
    none = client.get(API + "/estimate/invoices", headers=account.headers, params=params)
    assert none.status_code == 200 and none.json() == {
        "errorText": "Proforma cu seria si numarul PRF0001 nu a fost facturata.", "message": "",
        "areInvoicesCreated": False, "invoices": []}
    from_estimate = {"companyVatCode": account.cif, "seriesName": "FCT", "useEstimateDetails": True,
                     "estimate": {"seriesName": "PRF", "number": "0001"}}
    for draft in (False, True, False):
        r = client.post(API + "/invoice", headers=account.headers, json={**from_estimate, "isDraft": draft})
        assert r.status_code == 200, r.text
    done = client.get(API + "/estimate/invoices", headers=account.headers, params={**params, "number": "1"})
    assert done.json() == {"errorText": "", "message": "", "areInvoicesCreated": True,
                           "invoices": [{"series": "FCT", "number": "0001"}, {"series": "FCT", "number": "0002"}]}
    missing = client.get(API + "/estimate/invoices", headers=account.headers, params={**params, "number": "0009"})
    assert error(missing) == "Proforma cu seria si numarul PRF0009 nu a fost gasita!"
    assert missing.json()["areInvoicesCreated"] is False


# ---- concurrency ----------------------------------------------------------------------------------------------------


def test_concurrent_receipts_on_one_invoice_never_overpay_nor_skip_a_number(client, account, db) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    invoice(client, account, price=50)
    data = {"companyVatCode": account.cif, "type": "Chitanta", "value": 1,
            "invoicesList": [{"seriesName": "FCT", "number": "0001"}]}

    def worker(_: int) -> list[str]:
        out = []
        with TestClient(client.app) as c:
            for _ in range(15):
                r = c.post(API + "/payment", headers=account.headers, json=data)
                out.append(r.json()["number"] if r.status_code == 200 else r.json()["errorText"])
        return out

    with ThreadPoolExecutor(4) as pool:
        answers = [a for chunk in pool.map(worker, range(4)) for a in chunk]
    numbers = sorted(int(a) for a in answers if a.isdigit())
    assert numbers == list(range(1, 51))
    assert [a for a in answers if not a.isdigit()] == ["Valoarea incasarii (1.00) depaseste suma de incasat pe facturi (0.00)."] * 10
    assert status(client, account)["paidAmount"] == 50 and balance(client, account) == 50
    with db.session() as session:
        rows = session.scalars(select(CashMovement).order_by(CashMovement.seq)).all()
    assert [m.seq for m in rows] == list(range(1, 51))
    assert [m.balance_after for m in rows] == [Decimal(i) for i in range(1, 51)]
