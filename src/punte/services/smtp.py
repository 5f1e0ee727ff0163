"""Talking to a company's SMTP server: one conversation per message, failures classified.

The conversation is driven command by command (MAIL, RCPT per recipient, DATA) so that the server's
own answers are kept: the final ``250 ...`` of DATA when the message is accepted, the exact reply
when it is refused. Failures are either :class:`TransientFailure` (try again later: the server is
unreachable, timed out, or answered 4xx) or :class:`PermanentFailure` (5xx, or a configuration the
server cannot work with); retrying a permanent failure would only repeat the same answer.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass
from functools import lru_cache

SECURITY_MODES = ("none", "starttls", "ssl")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str  # none | starttls | ssl
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0


@dataclass(frozen=True)
class Delivery:
    """The server accepted the message; ``refused`` lists recipients it turned down (others got it)."""

    response: str
    refused: dict[str, str]


class DeliveryFailure(Exception):
    """``text`` says what went wrong; ``reply`` is the server's own answer when it gave one."""

    def __init__(self, text: str, reply: str | None = None) -> None:
        super().__init__(text)
        self.text = text
        self.reply = reply


class TransientFailure(DeliveryFailure):
    """Worth trying again later."""


class PermanentFailure(DeliveryFailure):
    """The server said no for good (5xx) or cannot be used as configured."""


@lru_cache(maxsize=1)
def _local_hostname() -> str:
    return socket.getfqdn() or "localhost"


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)
    return f"{code} {' '.join(text.split())}".strip()


def _fail(code: int, message: bytes | str, what: str) -> DeliveryFailure:
    reply = _reply(code, message)
    text = f"{what}: {reply}"
    return TransientFailure(text, reply) if 400 <= code < 500 else PermanentFailure(text, reply)


def _connect(server: SmtpServer, context: ssl.SSLContext) -> smtplib.SMTP:
    if server.security == "ssl":
        return smtplib.SMTP_SSL(server.host, server.port, local_hostname=_local_hostname(),
                                timeout=server.timeout, context=context)
    return smtplib.SMTP(server.host, server.port, local_hostname=_local_hostname(), timeout=server.timeout)


def deliver(
    server: SmtpServer, sender: str, recipients: list[str], data: bytes, *, ssl_context: ssl.SSLContext | None = None
) -> Delivery:
    """Send ``data`` (a complete RFC 5322 message) from ``sender`` to ``recipients``.

    Every socket operation is bounded by ``server.timeout``. ``ssl_context`` defaults to the
    system's trust store with host name checking.
    """
    if server.security not in SECURITY_MODES:
        raise PermanentFailure(f"Mod de securitate necunoscut: {server.security}")
    context = ssl_context or ssl.create_default_context()
    try:
        smtp = _connect(server, context)
    except (smtplib.SMTPConnectError, smtplib.SMTPServerDisconnected) as exc:
        raise _classify(exc, f"Conectarea la {server.host}:{server.port} a esuat") from exc
    except OSError as exc:  # refused, unreachable, DNS, timeout, TLS handshake
        raise TransientFailure(f"Conectarea la {server.host}:{server.port} a esuat: {_os_text(exc)}") from exc
    try:
        return _converse(smtp, server, context, sender, recipients, data)
    finally:
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _converse(smtp: smtplib.SMTP, server: SmtpServer, context: ssl.SSLContext, sender: str,
              recipients: list[str], data: bytes) -> Delivery:
    try:
        smtp.ehlo_or_helo_if_needed()
        if server.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise PermanentFailure(f"Serverul {server.host} nu ofera STARTTLS; alegeti alt mod de securitate.")
            code, message = smtp.starttls(context=context)
            if code != 220:
                raise _fail(code, message, "STARTTLS refuzat")
            smtp.ehlo()
        if server.username:
            try:
                smtp.login(server.username, server.password or "")
            except smtplib.SMTPNotSupportedError as exc:
                raise PermanentFailure(f"Serverul {server.host} nu accepta autentificare (AUTH).") from exc
            except smtplib.SMTPAuthenticationError as exc:
                raise _fail(exc.smtp_code, exc.smtp_error, "Autentificarea SMTP a esuat") from exc
        code, message = smtp.mail(sender)
        if code != 250:
            smtp.rset()
            raise _fail(code, message, f"Expeditorul {sender} a fost refuzat")
        refused: dict[str, tuple[int, str]] = {}
        for rcpt in recipients:
            code, message = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, _reply(code, message))
        if len(refused) == len(recipients):
            smtp.rset()
            codes = [code for code, _ in refused.values()]
            text = "; ".join(f"{rcpt}: {reply}" for rcpt, (_, reply) in refused.items())
            if any(400 <= c < 500 for c in codes):
                raise TransientFailure(f"Destinatarii au fost refuzati: {text}", text)
            raise PermanentFailure(f"Destinatarii au fost refuzati: {text}", text)
        code, message = smtp.data(data)
        if code != 250:
            raise _fail(code, message, "Mesajul a fost refuzat")
        return Delivery(_reply(code, message), {r: reply for r, (_, reply) in refused.items()})
    except DeliveryFailure:
        raise
    except smtplib.SMTPResponseException as exc:
        raise _fail(exc.smtp_code, exc.smtp_error, "Serverul SMTP a raspuns cu eroare") from exc
    except smtplib.SMTPServerDisconnected as exc:
        raise TransientFailure(f"Serverul SMTP a inchis conexiunea: {exc}") from exc
    except smtplib.SMTPException as exc:
        raise TransientFailure(f"Eroare SMTP: {exc}") from exc
    except OSError as exc:
        raise TransientFailure(f"Eroare de retea in dialogul SMTP: {_os_text(exc)}") from exc


def _classify(exc: smtplib.SMTPException, what: str) -> DeliveryFailure:
    if isinstance(exc, smtplib.SMTPResponseException):
        return _fail(exc.smtp_code, exc.smtp_error, what)
    return TransientFailure(f"{what}: {exc}")


def _os_text(exc: OSError) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        return "timpul de asteptare a expirat"
    return exc.strerror or str(exc) or type(exc).__name__


__all__ = [
    "DEFAULT_PORTS", "SECURITY_MODES", "Delivery", "DeliveryFailure", "PermanentFailure", "SmtpServer",
    "TransientFailure", "deliver",
]
