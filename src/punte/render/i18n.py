"""Printed labels and number/date formatting for the languages a document can be issued in.

Romanian is the reference. For other languages the legal mentions keep the Romanian wording in
parentheses, since that is the text the Romanian law asks for.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from punte.domain.money import round_to

LANGUAGES = ("RO", "EN", "FR", "DE", "IT", "ES", "HU")
FALLBACK_LANGUAGE = "EN"

# One row per label: (RO, EN, FR, DE, IT, ES, HU).
_TRANSLATIONS: dict[str, tuple[str, str, str, str, str, str, str]] = {
    "invoice": ("Factură", "Invoice", "Facture", "Rechnung", "Fattura", "Factura", "Számla"),
    "storno": (
        "Factură storno", "Credit note", "Facture d'avoir", "Stornorechnung", "Fattura di storno",
        "Factura rectificativa", "Sztornó számla",
    ),
    "credit_note": (
        "Notă de creditare", "Credit note", "Avoir", "Gutschrift", "Nota di credito", "Nota de crédito",
        "Jóváírás",
    ),
    "proforma": (
        "Factură proformă", "Proforma invoice", "Facture proforma", "Proforma-Rechnung",
        "Fattura proforma", "Factura proforma", "Proforma számla",
    ),
    "receipt": ("Chitanță", "Receipt", "Reçu", "Quittung", "Ricevuta", "Recibo", "Nyugta"),
    "series": ("Seria", "Series", "Série", "Serie", "Serie", "Serie", "Sorozat"),
    "number": ("nr.", "no.", "n°", "Nr.", "n.", "n.º", "sz."),
    "issue_date": (
        "Data emiterii", "Issue date", "Date d'émission", "Rechnungsdatum", "Data di emissione",
        "Fecha de emisión", "Kiállítás dátuma",
    ),
    "due_date": (
        "Data scadenței", "Due date", "Date d'échéance", "Fälligkeitsdatum", "Data di scadenza",
        "Fecha de vencimiento", "Fizetési határidő",
    ),
    "delivery_date": (
        "Data livrării", "Delivery date", "Date de livraison", "Lieferdatum", "Data di consegna",
        "Fecha de entrega", "Teljesítés dátuma",
    ),
    "seller": ("Furnizor", "Supplier", "Fournisseur", "Lieferant", "Fornitore", "Proveedor", "Eladó"),
    "buyer": ("Client", "Customer", "Client", "Kunde", "Cliente", "Cliente", "Vevő"),
    "cif": (
        "CIF", "Tax ID (CIF)", "N° fiscal (CIF)", "Steuer-Nr. (CIF)", "Cod. fiscale (CIF)", "NIF (CIF)",
        "Adószám (CIF)",
    ),
    "reg_com": (
        "Reg. Com.", "Trade Reg. No.", "N° RC", "Handelsreg.-Nr.", "N. Reg. Imprese", "N.º Reg. Mercantil",
        "Cégjegyzékszám",
    ),
    "address": ("Adresa", "Address", "Adresse", "Adresse", "Indirizzo", "Dirección", "Cím"),
    "iban": ("IBAN", "IBAN", "IBAN", "IBAN", "IBAN", "IBAN", "IBAN"),
    "bank": ("Banca", "Bank", "Banque", "Bank", "Banca", "Banco", "Bank"),
    "phone": ("Tel.", "Phone", "Tél.", "Tel.", "Tel.", "Tel.", "Tel."),
    "email": ("Email", "Email", "E-mail", "E-Mail", "Email", "Email", "E-mail"),
    "contact": (
        "Persoană de contact", "Contact person", "Contact", "Ansprechpartner", "Referente",
        "Persona de contacto", "Kapcsolattartó",
    ),
    "col_no": ("Nr. crt.", "No.", "N°", "Pos.", "N.", "N.º", "Ssz."),
    "col_name": (
        "Denumirea produselor sau a serviciilor", "Description", "Désignation", "Bezeichnung",
        "Descrizione", "Descripción", "Megnevezés",
    ),
    "col_unit": ("U.M.", "Unit", "Unité", "Einheit", "U.M.", "Unidad", "Me.e."),
    "col_qty": ("Cant.", "Qty", "Qté", "Menge", "Q.tà", "Cant.", "Menny."),
    "col_price_net": (
        "Preț unitar (fără TVA)", "Unit price (excl. VAT)", "Prix unitaire HT", "Einzelpreis (netto)",
        "Prezzo unitario (IVA escl.)", "Precio unitario (sin IVA)", "Egységár (nettó)",
    ),
    "col_price": (
        "Preț unitar", "Unit price", "Prix unitaire", "Einzelpreis", "Prezzo unitario", "Precio unitario",
        "Egységár",
    ),
    "col_value": ("Valoare", "Amount", "Montant", "Betrag", "Importo", "Importe", "Érték"),
    "col_vat_rate": (
        "Cota TVA", "VAT rate", "Taux TVA", "MwSt.-Satz", "Aliquota IVA", "Tipo de IVA", "ÁFA-kulcs",
    ),
    "col_vat": (
        "Valoare TVA", "VAT amount", "Montant TVA", "MwSt.-Betrag", "Importo IVA", "Cuota de IVA",
        "ÁFA-érték",
    ),
    "code": ("Cod", "Code", "Code", "Art.-Nr.", "Cod.", "Cód.", "Kód"),
    "base": (
        "Bază de impozitare", "Taxable amount", "Base imposable", "Bemessungsgrundlage", "Imponibile",
        "Base imponible", "Adóalap",
    ),
    "subtotal": (
        "Subtotal", "Subtotal", "Sous-total", "Zwischensumme", "Subtotale", "Subtotal", "Részösszeg",
    ),
    "discounts": ("Reduceri", "Discounts", "Remises", "Rabatte", "Sconti", "Descuentos", "Kedvezmények"),
    "total_net": (
        "Total fără TVA", "Total excl. VAT", "Total HT", "Gesamt netto", "Totale imponibile",
        "Total sin IVA", "Nettó összesen",
    ),
    "total_vat": (
        "Total TVA", "Total VAT", "Total TVA", "MwSt. gesamt", "Totale IVA", "Total IVA", "ÁFA összesen",
    ),
    "total_due": (
        "Total de plată", "Total due", "Total à payer", "Gesamtbetrag", "Totale da pagare",
        "Total a pagar", "Fizetendő",
    ),
    "paid": ("Încasat", "Paid", "Payé", "Bezahlt", "Pagato", "Pagado", "Fizetve"),
    "balance": (
        "Rest de plată", "Balance due", "Reste à payer", "Offener Betrag", "Residuo da pagare",
        "Pendiente de pago", "Hátralék",
    ),
    "exchange_rate": (
        "Curs valutar", "Exchange rate", "Taux de change", "Wechselkurs", "Tasso di cambio",
        "Tipo de cambio", "Árfolyam",
    ),
    "vat_on_collection": (
        "TVA la încasare", "VAT on collection (TVA la încasare)",
        "TVA sur les encaissements (TVA la încasare)", "Ist-Versteuerung (TVA la încasare)",
        "IVA per cassa (TVA la încasare)", "IVA de caja (TVA la încasare)",
        "Pénzforgalmi elszámolás (TVA la încasare)",
    ),
    "storno_ref": (
        "Storno la factura {series} {number} din {date}",
        "Reversal of invoice {series} {number} dated {date}",
        "Avoir sur la facture {series} {number} du {date}",
        "Storno der Rechnung {series} {number} vom {date}",
        "Storno della fattura {series} {number} del {date}",
        "Rectificación de la factura {series} {number} del {date}",
        "A(z) {series} {number} számú, {date} keltű számla sztornója",
    ),
    "cancelled": ("ANULATĂ", "CANCELLED", "ANNULÉE", "STORNIERT", "ANNULLATA", "ANULADA", "ÉRVÉNYTELEN"),
    "draft": ("CIORNĂ", "DRAFT", "BROUILLON", "ENTWURF", "BOZZA", "BORRADOR", "PISZKOZAT"),
    "mentions": ("Mențiuni", "Notes", "Mentions", "Hinweise", "Note", "Menciones", "Megjegyzések"),
    "pay_online": (
        "Plătește online", "Pay online", "Payer en ligne", "Online bezahlen", "Paga online",
        "Pagar en línea", "Online fizetés",
    ),
    "view_online": (
        "Vezi documentul online", "View the document online", "Voir le document en ligne",
        "Dokument online ansehen", "Visualizza il documento online", "Ver el documento en línea",
        "Dokumentum megtekintése online",
    ),
    "issuer": (
        "Întocmit de", "Issued by", "Établi par", "Erstellt von", "Emesso da", "Emitido por",
        "Kiállította",
    ),
    "cnp": (
        "CNP", "Personal ID (CNP)", "N° personnel (CNP)", "Pers.-Nr. (CNP)", "Cod. personale (CNP)",
        "N.º personal (CNP)", "Személyi szám (CNP)",
    ),
    "shipping": (
        "Date privind expediția", "Shipping details", "Expédition", "Versanddaten", "Dati di spedizione",
        "Datos de envío", "Szállítási adatok",
    ),
    "delegate": (
        "Numele delegatului", "Delegate", "Délégué", "Beauftragter", "Incaricato", "Delegado", "Megbízott",
    ),
    "id_card": (
        "B.I./C.I.", "ID card", "Pièce d'identité", "Ausweis", "Documento d'identità",
        "Documento de identidad", "Személyi igazolvány",
    ),
    "vehicle": (
        "Mijloc de transport", "Vehicle", "Moyen de transport", "Transportmittel", "Mezzo di trasporto",
        "Medio de transporte", "Szállítóeszköz",
    ),
    "aviz": (
        "Aviz de însoțire a mărfii", "Delivery note", "Bon de livraison", "Lieferschein",
        "Documento di trasporto", "Albarán", "Szállítólevél",
    ),
    "receipt_text": (
        "Am primit de la {buyer} suma de {amount} {currency}.",
        "Received from {buyer} the amount of {amount} {currency}.",
        "Reçu de {buyer} la somme de {amount} {currency}.",
        "Von {buyer} den Betrag von {amount} {currency} erhalten.",
        "Ricevuto da {buyer} l'importo di {amount} {currency}.",
        "Recibido de {buyer} la cantidad de {amount} {currency}.",
        "{buyer} részéről {amount} {currency} összeget átvettem.",
    ),
    "page": (
        "Pagina {page} din {pages}", "Page {page} of {pages}", "Page {page} sur {pages}",
        "Seite {page} von {pages}", "Pagina {page} di {pages}", "Página {page} de {pages}",
        "{page}/{pages}. oldal",
    ),
    "continued": (
        "continuare", "continued", "suite", "Fortsetzung", "continua", "continuación", "folytatás",
    ),
    "non_payer": (
        "Furnizor neplătitor de TVA", "Supplier not registered for VAT (Furnizor neplătitor de TVA)",
        "Fournisseur non assujetti à la TVA (Furnizor neplătitor de TVA)",
        "Lieferant nicht mehrwertsteuerpflichtig (Furnizor neplătitor de TVA)",
        "Fornitore non soggetto a IVA (Furnizor neplătitor de TVA)",
        "Proveedor no sujeto a IVA (Furnizor neplătitor de TVA)",
        "Az eladó nem ÁFA-alany (Furnizor neplătitor de TVA)",
    ),
}

LABELS: dict[str, dict[str, str]] = {
    lang: {key: row[index] for key, row in _TRANSLATIONS.items()} for index, lang in enumerate(LANGUAGES)
}

# (thousands separator, decimal separator); U+00A0 keeps "1 234,56" together.
_SEPARATORS = {"EN": (",", "."), "FR": ("\u00a0", ","), "HU": ("\u00a0", ",")}
_DEFAULT_SEPARATORS = (".", ",")  # RO, DE, IT, ES


def normalize_language(language: str | None) -> str:
    """The supported language code for ``language`` (case-insensitive), English when unknown."""
    code = (language or "RO").strip().upper()
    return code if code in LABELS else FALLBACK_LANGUAGE


def labels_for(language: str | None) -> dict[str, str]:
    """Printed labels in ``language`` (see :data:`LANGUAGES`), English for other languages."""
    return LABELS[normalize_language(language)]


class NumberFormat:
    """Formats amounts, quantities, percentages and dates the way ``language`` writes them."""

    def __init__(self, language: str | None) -> None:
        code = normalize_language(language)
        self.thousands, self.decimal = _SEPARATORS.get(code, _DEFAULT_SEPARATORS)

    def number(self, value: Decimal, decimals: int) -> str:
        """``value`` rounded half-up to ``decimals`` places, grouped: ``1.234,56`` in Romanian."""
        rounded = round_to(value, decimals)
        text = f"{abs(rounded):,.{decimals}f}"
        if (self.thousands, self.decimal) != (",", "."):
            text = text.replace(",", "\0").replace(".", self.decimal).replace("\0", self.thousands)
        return f"-{text}" if rounded < 0 else text

    def quantity(self, value: Decimal) -> str:
        """A quantity with as many decimals as it carries (``2``, ``1,5``, ``0,333``)."""
        exponent = value.normalize().as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return self.number(value, decimals)

    def percent(self, value: Decimal) -> str:
        """A VAT percentage: ``21%``, ``9,5%``."""
        return f"{self.quantity(value)}%"

    def rate(self, value: Decimal) -> str:
        """An exchange rate with at least four decimals."""
        exponent = value.as_tuple().exponent
        decimals = max(4, -exponent if isinstance(exponent, int) else 4)
        return self.number(value, decimals)

    @staticmethod
    def day(value: date) -> str:
        """A date as DD.MM.YYYY."""
        return value.strftime("%d.%m.%Y")
