"""E-mails for people: SmartBill's ``#placeholder#`` texts filled in, and the MIME message built.

Pure functions, no I/O. A body may be HTML (SmartBill's own example is: ``</br>``, ``<b>``...) or
plain text; either way the message carries both a ``text/plain`` and a ``text/html`` part, and the
document's PDF as an attachment when there is one.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formataddr, formatdate

from punte.domain.money import places

#: SmartBill's defaults are configured in its Cloud account; these are punte's when a company has none.
DEFAULT_SUBJECT = "#tip document# #serie numar document#"
DEFAULT_BODY = (
    "Buna ziua,\n\n"
    "Atasat va transmitem #tip document# #serie numar document# emisa in data de #data emiterii#, "
    "in valoare de #total document#.\n"
    "Documentul poate fi vazut si la adresa #link document#\n\n"
    "Multumim pentru colaborare!"
)

_PLACEHOLDER = re.compile(r"#\s*(tip document|serie numar document|link document|data emiterii|data scadentei|"
                          r"total document|mentiune|nume client|persoana contact)\s*#", re.IGNORECASE)
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^>]*>")
_BREAK = re.compile(r"<\s*(br|/br|br\s*/)\s*>|<\s*/\s*(p|div|tr|li|h[1-6])\s*>", re.IGNORECASE)
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                      r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$")


@dataclass(frozen=True)
class DocumentFacts:
    """What the placeholders of a document e-mail show."""

    doc_type: str  # "factura" | "proforma", as the caller named it
    number_label: str  # series and number, e.g. FCT0001
    link: str
    issue_date: date
    due_date: date | None
    total: Decimal
    currency: str
    mentions: str = ""
    client_name: str = ""
    contact: str = ""


def format_date(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def format_amount(value: Decimal, currency: str) -> str:
    """``1 234,56`` (the public page's format), to the currency's places."""
    return f"{value:,.{places(currency)}f}".replace(",", " ").replace(".", ",")


def _values(facts: DocumentFacts) -> dict[str, str]:
    return {
        "tip document": facts.doc_type,
        "serie numar document": facts.number_label,
        "link document": facts.link,
        "data emiterii": format_date(facts.issue_date),
        "data scadentei": format_date(facts.due_date),
        "total document": format_amount(facts.total, facts.currency),
        "mentiune": facts.mentions,
        "nume client": facts.client_name,
        "persoana contact": facts.contact,
    }


def fill(template: str, facts: DocumentFacts | None, *, as_html: bool = False) -> str:
    """Replace the placeholders (case and inner spaces forgiven); values are HTML-escaped for HTML.

    ``#total document#`` is the amount followed by the document's currency, unless the template
    already writes the currency right after it (SmartBill's example: ``#total document# RON``).
    """
    if facts is None:
        return template
    values = _values(facts)
    currency = re.escape(facts.currency)
    total = re.compile(r"#\s*total document\s*#(?!\s*" + currency + r"\b)", re.IGNORECASE)
    template = total.sub(f"#total document# {facts.currency}", template)

    def one(match: re.Match[str]) -> str:
        value = values[" ".join(match.group(1).lower().split())]
        return html.escape(value) if as_html else value

    return _PLACEHOLDER.sub(one, template)


def looks_like_html(text: str) -> bool:
    return bool(_TAG.search(text))


def html_to_text(markup: str) -> str:
    """A readable plain-text version of an HTML body: breaks kept, tags dropped, entities decoded."""
    text = _BREAK.sub("\n", markup)
    text = _TAG.sub("", text)
    text = html.unescape(text)
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return "\n".join(lines).strip() + "\n"


def text_to_html(text: str) -> str:
    escaped = html.escape(text).replace("\r\n", "\n").replace("\n", "<br>\n")
    link = re.compile(r"(https?://[^\s<>&]+)")
    return link.sub(r'<a href="\1">\1</a>', escaped)


def render_body(template: str, facts: DocumentFacts | None) -> tuple[str, str]:
    """The body as (plain text, HTML)."""
    if looks_like_html(template):
        markup = fill(template, facts, as_html=True)
        return html_to_text(markup), markup
    text = fill(template, facts)
    return text if text.endswith("\n") else text + "\n", text_to_html(text)


def render_subject(template: str, facts: DocumentFacts | None) -> str:
    """One line: line breaks (which would forge headers) become spaces."""
    return " ".join(fill(template, facts).split())


# ---- addresses -----------------------------------------------------------------------------------------


class AddressError(ValueError):
    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def _split_list(value: str) -> list[str]:
    """Split on commas and semicolons outside quotes and angle brackets."""
    pieces, buf, quoted, angle = [], [], False, False
    for ch in value:
        if ch == '"':
            quoted = not quoted
        elif ch == "<" and not quoted:
            angle = True
        elif ch == ">" and not quoted:
            angle = False
        if ch in ",;" and not quoted and not angle:
            pieces.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    pieces.append("".join(buf))
    return [p.strip() for p in pieces if p.strip()]


_NAMED = re.compile(r"^(?P<name>.*?)\s*<(?P<addr>[^<>]*)>$", re.DOTALL)


def _one_address(piece: str) -> tuple[str, str]:
    match = _NAMED.match(piece)
    if match:
        name = " ".join(match["name"].strip().strip('"').replace('\\"', '"').split())
        return name, match["addr"].strip()
    return "", piece


def parse_addresses(value: str | None, field_name: str) -> list[str]:
    """``a@x.ro, Nume <b@y.ro>; c@z.ro`` -> formatted addresses, each once; a bad one raises :class:`AddressError`."""
    if not value or not value.strip():
        return []
    out: list[str] = []
    seen: set[str] = set()
    for piece in _split_list(value):
        name, addr = _one_address(piece)
        if not _ADDRESS.match(addr) or len(addr) > 254:
            raise AddressError(f"Adresa de e-mail '{piece}' din campul {field_name} nu este valida.")
        if addr.lower() in seen:
            continue
        seen.add(addr.lower())
        out.append(formataddr((name, addr)) if name else addr)
    return out


def bare_address(formatted: str) -> str:
    return _one_address(formatted.strip())[1]


def split_stored(value: str | None) -> list[str]:
    """Addresses as stored on a message row (comma-separated, already validated and formatted)."""
    return _split_list(value) if value else []


# ---- the MIME message ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "pdf"


@dataclass(frozen=True)
class Outgoing:
    """Everything a message needs, already rendered."""

    from_address: str
    from_name: str | None
    to: list[str]
    subject: str
    text: str
    html: str
    message_id: str
    cc: list[str] = field(default_factory=list)
    bcc: list[str] = field(default_factory=list)
    reply_to: str | None = None
    attachments: list[Attachment] = field(default_factory=list)

    @property
    def envelope_recipients(self) -> list[str]:
        """Every recipient (To, Cc and Bcc), bare and once each; Bcc never appears in a header."""
        seen: dict[str, str] = {}
        for item in [*self.to, *self.cc, *self.bcc]:
            addr = bare_address(item)
            seen.setdefault(addr.lower(), addr)
        return list(seen.values())


def build_message(out: Outgoing, *, when: float | None = None) -> EmailMessage:
    """The MIME message (multipart/alternative text + HTML, then attachments)."""
    msg = EmailMessage(policy=SMTP)
    local, _, domain = out.from_address.partition("@")
    msg["From"] = Address(display_name=out.from_name or "", username=local, domain=domain)
    msg["To"] = ", ".join(out.to)
    if out.cc:
        msg["Cc"] = ", ".join(out.cc)
    if out.reply_to:
        msg["Reply-To"] = out.reply_to
    msg["Subject"] = out.subject
    msg["Date"] = formatdate(when, localtime=False, usegmt=True)
    msg["Message-ID"] = out.message_id
    msg.set_content(out.text, subtype="plain", charset="utf-8")
    msg.add_alternative(_html_document(out.html), subtype="html", charset="utf-8")
    for att in out.attachments:
        msg.add_attachment(att.content, maintype=att.maintype, subtype=att.subtype, filename=att.filename)
    return msg


def _html_document(body: str) -> str:
    if re.search(r"<\s*html[\s>]", body, re.IGNORECASE):
        return body
    return f'<!doctype html>\n<html><head><meta charset="utf-8"></head><body>\n{body}\n</body></html>\n'


__all__ = [
    "DEFAULT_BODY", "DEFAULT_SUBJECT", "AddressError", "Attachment", "DocumentFacts", "Outgoing", "bare_address",
    "build_message", "fill", "format_amount", "format_date", "html_to_text", "looks_like_html", "parse_addresses",
    "render_body", "render_subject", "split_stored", "text_to_html",
]
