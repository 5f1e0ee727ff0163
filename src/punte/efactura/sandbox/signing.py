"""The sandbox's signing key and certificate, the XMLDSig it puts in every ZIP, and its verification.

ANAF's ``semnatura_<index>.xml`` is the answer document itself (the invoice, or the error
message) with an *enveloped* XML signature appended as the root's last child: exclusive
canonicalization, RSA-SHA256, SHA-256 digest over the whole document (``Reference URI=""`` with
the enveloped-signature transform; the sandbox also names the exclusive-C14N transform, which
ANAF leaves implicit), and a ``KeyInfo/X509Data`` carrying the signer's subject
name and certificate. The sandbox signs the same way, with a self-signed certificate generated
once into ``<data_dir>/anaf-sandbox/`` (the key never leaves that directory; the certificate is
also served at ``GET /anaf-sandbox/certificate``).

:func:`verify_signature` checks a ZIP as ANAF (or the sandbox) delivers it: the signature is
valid, and the document it covers is exactly the ``<index>.xml`` next to it.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import tempfile
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml.algorithms import CanonicalizationMethod
from signxml.exceptions import InvalidInput, InvalidSignature
from signxml.signer import XMLSigner
from signxml.verifier import SignatureConfiguration, XMLVerifier

from .clock import BUCHAREST

DSIG = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
KEY_DIRNAME = "anaf-sandbox"
BUNDLE_FILENAME = "signing.pem"  # private key + certificate, written once, atomically
CERT_FILENAME = "certificate.pem"
_SIGNATURE_NAME = re.compile(r"^semnatura_(\d+)\.xml$")
_SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)


class SignatureError(Exception):
    """The ZIP is not a signed ANAF answer, or its signature does not verify."""


@dataclass(frozen=True)
class SandboxKeys:
    """The sandbox's RSA key and its self-signed certificate."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @classmethod
    def load_or_create(cls, data_dir: Path) -> SandboxKeys:
        """Load ``<data_dir>/anaf-sandbox/signing.pem`` or create it (once, even with racing processes)."""
        directory = Path(data_dir) / KEY_DIRNAME
        bundle = directory / BUNDLE_FILENAME
        if not bundle.is_file():
            directory.mkdir(parents=True, exist_ok=True)
            _publish_once(bundle, _new_bundle())
        keys = cls.from_pem(bundle.read_bytes())
        cert_path = directory / CERT_FILENAME
        if not cert_path.is_file() or cert_path.read_bytes() != keys.certificate_pem:
            _atomic_write(cert_path, keys.certificate_pem, 0o644)
        return keys

    @classmethod
    def from_pem(cls, data: bytes) -> SandboxKeys:
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the sandbox signing key must be an RSA key")
        return cls(key, x509.load_pem_x509_certificate(data))


def _new_bundle() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "RO"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Bucharest"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Bucharest"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "punte"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "ANAF-SANDBOX"),
        x509.NameAttribute(NameOID.COMMON_NAME, "ANAF SANDBOX (punte, not ANAF)"),
    ])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, key_cert_sign=False, crl_sign=False,
                          encipher_only=False, decipher_only=False),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return key_pem + cert.public_bytes(serialization.Encoding.PEM)


def _atomic_write(target: Path, data: bytes, mode: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _publish_once(target: Path, data: bytes) -> None:
    """Write ``target`` unless another process got there first (``link`` never replaces a file)."""
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        try:
            os.link(tmp, target)
        except FileExistsError:
            pass
    finally:
        Path(tmp).unlink(missing_ok=True)


def sign_enveloped(document: bytes, keys: SandboxKeys) -> bytes:
    """``document`` with an enveloped XMLDSig appended, shaped like ANAF's ``semnatura_*.xml``."""
    root = etree.fromstring(document, _SAFE_PARSER)
    key_info = etree.Element(f"{{{DSIG}}}KeyInfo", nsmap={None: DSIG})
    data = etree.SubElement(key_info, f"{{{DSIG}}}X509Data")
    etree.SubElement(data, f"{{{DSIG}}}X509SubjectName").text = keys.certificate.subject.rfc4514_string()
    etree.SubElement(data, f"{{{DSIG}}}X509Certificate").text = base64.b64encode(
        keys.certificate.public_bytes(serialization.Encoding.DER)
    ).decode("ascii")
    signer = XMLSigner(c14n_algorithm=EXC_C14N)
    signer.namespaces = {None: DSIG}  # type: ignore[dict-item]  # default namespace, as ANAF writes it
    signed = signer.sign(root, key=keys.private_key, key_info=key_info)
    return bytes(etree.tostring(signed, xml_declaration=True, encoding="UTF-8", standalone=True))


@dataclass(frozen=True)
class VerifiedZip:
    """A ZIP whose signature verified.

    ``document`` is ``<index>.xml`` as stored in the ZIP (the invoice on ``ok``, the error
    message on ``nok``); ``kind`` says which. ``trusted`` is True when the signer is the
    certificate the caller asked for, False when only the embedded certificate was used (the
    content is intact, but anyone could have signed it).
    """

    index: str
    document: bytes
    signature: bytes
    kind: str  # "invoice" | "errors"
    signer_subject: str
    signer_sha256: str
    trusted: bool


def _embedded_certificate(signature_xml: bytes) -> x509.Certificate:
    root = etree.fromstring(signature_xml, _SAFE_PARSER)
    found = root.findall(f".//{{{DSIG}}}X509Certificate")
    if len(found) != 1 or not (found[0].text or "").strip():
        raise SignatureError("the signature carries no (or more than one) X509Certificate")
    try:
        return x509.load_der_x509_certificate(base64.b64decode("".join((found[0].text or "").split())))
    except ValueError as exc:
        raise SignatureError(f"the embedded certificate does not load: {exc}") from exc


def _load_certificate(value: bytes | str | x509.Certificate) -> x509.Certificate:
    if isinstance(value, x509.Certificate):
        return value
    data = value.encode("ascii") if isinstance(value, str) else value
    return x509.load_pem_x509_certificate(data)


def verify_signature(zip_bytes: bytes, certificate: bytes | str | x509.Certificate | None = None) -> VerifiedZip:
    """Verify an ANAF-style answer ZIP (``<index>.xml`` + ``semnatura_<index>.xml``).

    With ``certificate`` (PEM, or a loaded certificate: the sandbox's, or the Ministry of
    Finance's for real answers) the signature must be made by that certificate. Without it the
    certificate embedded in the signature is used and the result says ``trusted=False``.
    Raises :class:`SignatureError` when the ZIP is malformed, the signature does not verify, or
    the signed document differs from ``<index>.xml``.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(zip_bytes))
    except zipfile.BadZipFile as exc:
        raise SignatureError(f"not a ZIP file: {exc}") from exc
    with archive:
        names = archive.namelist()
        signatures = [m for m in (_SIGNATURE_NAME.match(n) for n in names) if m]
        if len(signatures) != 1:
            raise SignatureError(f"expected exactly one semnatura_<index>.xml, found {names}")
        index = signatures[0].group(1)
        if f"{index}.xml" not in names:
            raise SignatureError(f"the ZIP has no {index}.xml next to semnatura_{index}.xml")
        document = archive.read(f"{index}.xml")
        signature = archive.read(signatures[0].group(0))
    embedded = _embedded_certificate(signature)
    signer = _load_certificate(certificate) if certificate is not None else embedded
    if certificate is not None and embedded.fingerprint(hashes.SHA256()) != signer.fingerprint(hashes.SHA256()):
        raise SignatureError("the ZIP is signed by another certificate than the expected one")
    try:
        result = XMLVerifier().verify(
            signature,
            x509_cert=signer,
            # a Reference without a canonicalization transform (ANAF's files) is digested with
            # inclusive C14N 1.0, as XMLDSig prescribes for a node-set
            expect_config=SignatureConfiguration(
                ignore_ambiguous_key_info=True,
                default_reference_c14n_method=CanonicalizationMethod.CANONICAL_XML_1_0,
            ),
        )
    except (InvalidSignature, InvalidInput, etree.XMLSyntaxError) as exc:
        raise SignatureError(f"the signature does not verify: {exc}") from exc
    verified = result[0] if isinstance(result, list) else result
    signed = etree.tostring(verified.signed_xml, method="c14n", exclusive=True)
    try:
        expected = etree.tostring(etree.fromstring(document, _SAFE_PARSER), method="c14n", exclusive=True)
    except etree.XMLSyntaxError as exc:
        raise SignatureError(f"{index}.xml is not XML: {exc}") from exc
    if signed != expected:
        raise SignatureError(f"the signed document differs from {index}.xml")
    root_name = etree.QName(verified.signed_xml).localname
    return VerifiedZip(
        index=index,
        document=document,
        signature=signature,
        kind="invoice" if root_name in ("Invoice", "CreditNote", "CrossIndustryInvoice") else "errors",
        signer_subject=signer.subject.rfc4514_string(),
        signer_sha256=hashlib.sha256(signer.public_bytes(serialization.Encoding.DER)).hexdigest(),
        trusted=certificate is not None,
    )


def answer_zip(index: str, document: bytes, keys: SandboxKeys, when: datetime) -> bytes:
    """The ZIP ``descarcare`` returns: ``<index>.xml`` and ``semnatura_<index>.xml``, dated ``when``."""
    buffer = io.BytesIO()
    local = when.astimezone(BUCHAREST)
    stamp = (local.year, local.month, local.day, local.hour, local.minute, local.second)
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in ((f"{index}.xml", document), (f"semnatura_{index}.xml", sign_enveloped(document, keys))):
            info = zipfile.ZipInfo(name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return buffer.getvalue()
