"""The report signature (电子签章, BZ-8): the SM3 digest of the PDF, signed with the verification
centre's key, appended to the file as one PDF comment line after ``%%EOF``.

    %JIUZHU-SIGNATURE v1 ed25519 <key id> <report no> <SM3 of everything before this line> <signature>

PDF readers ignore what follows ``%%EOF``; ``verify`` recomputes the digest of the bytes before the
line, so one byte changed anywhere in the document (or in the line) fails. Ed25519 (RFC 8032,
through ``cryptography``) is deterministic: a report regenerated from the same data is the same
file, byte for byte (DR-4). A deployment whose CA issues SM2 certificates plugs its signing service
in behind ``Signer``; the format names the algorithm so both can be verified side by side.

Keys: ``JIUZHU_REPORT_SIGNING_KEY`` names a PEM file with the private key (``jiuzhu report keygen``
makes one); ``JIUZHU_REPORT_TRUSTED_KEYS`` a folder of public keys of other centres whose reports
are accepted. The fixed demo key is used only when ``JIUZHU_ALLOW_DEMO_KEY=1``, and says so.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger(__name__)

KEY_ENV = "JIUZHU_REPORT_SIGNING_KEY"
TRUSTED_ENV = "JIUZHU_REPORT_TRUSTED_KEYS"
DEMO_ENV = "JIUZHU_ALLOW_DEMO_KEY"
MARK = b"\n%JIUZHU-SIGNATURE "
_LINE = re.compile(rb"^v1 ed25519 ([0-9a-f]{16}) ([A-Za-z0-9-]{1,40}) ([0-9a-f]{64}) ([A-Za-z0-9+/=]{86,88})\n$")
# public and fixed: a demo report is recognisable as such, never trusted outside a demo
_DEMO_SEED = hashlib.sha256(b"jiuzhu demo report signing key - not for real documents").digest()


class SigningKeyMissing(RuntimeError):
    def __init__(self, message_zh: str):
        super().__init__(message_zh)
        self.message_zh = message_zh


def sm3(data: bytes) -> str:
    return hashlib.new("sm3", data).hexdigest()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return sm3(raw)[:16]


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey
    demo: bool = False

    @property
    def key_id(self) -> str:
        return key_id(self.private.public_key())

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(serialization.Encoding.PEM,
                                                      serialization.PublicFormat.SubjectPublicKeyInfo)

    def sign_text(self, text: str) -> str:
        return base64.b64encode(self.private.sign(text.encode("utf-8"))).decode("ascii")


_demo_warned = False


def load_signer() -> Signer:
    global _demo_warned  # warn once per process
    path = os.environ.get(KEY_ENV, "")
    if path:
        try:
            key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise SigningKeyMissing(f"无法读取报告签名私钥 {KEY_ENV}={path}:{exc}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyMissing(f"报告签名私钥须为 Ed25519 密钥:{path}")
        return Signer(key)
    if os.environ.get(DEMO_ENV) == "1":
        if not _demo_warned:
            log.warning("正在使用公开的演示签名密钥(%s=1),所签报告不具效力", DEMO_ENV)
            _demo_warned = True
        return Signer(Ed25519PrivateKey.from_private_bytes(_DEMO_SEED), demo=True)
    raise SigningKeyMissing(f"未设置报告签名私钥:请设置环境变量 {KEY_ENV}(仅演示环境可设置 {DEMO_ENV}=1 使用演示密钥)")


def generate_key(out: Path) -> tuple[Path, Path, str]:
    """A new key pair: the private key (mode 600) and the public key to hand to verifiers."""
    key = Ed25519PrivateKey.generate()
    out.mkdir(parents=True, exist_ok=True)
    private = out / "report-signing-key.pem"
    public = out / f"report-signing-{key_id(key.public_key())}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    private.chmod(0o600)
    public.write_bytes(Signer(key).public_pem())
    return private, public, key_id(key.public_key())


def trusted_keys(extra: list[Path] | None = None) -> dict[str, Ed25519PublicKey]:
    """Public keys accepted by ``verify``: our own signer's, the trusted folder's, and any given."""
    keys: dict[str, Ed25519PublicKey] = {}
    try:
        own = load_signer()
        keys[own.key_id] = own.private.public_key()
    except SigningKeyMissing:
        pass
    files = list(extra or [])
    folder = os.environ.get(TRUSTED_ENV, "")
    if folder and Path(folder).is_dir():
        files += sorted(Path(folder).glob("*.pem"))
    for f in files:
        public = serialization.load_pem_public_key(Path(f).read_bytes())
        if isinstance(public, Ed25519PublicKey):
            keys[key_id(public)] = public
    return keys


def _payload(report_no: str, digest: str) -> str:
    return f"jiuzhu-report|v1|{report_no}|{digest}"


def sign_pdf(pdf: bytes, report_no: str, signer: Signer) -> bytes:
    if not re.fullmatch(r"[A-Za-z0-9-]{1,40}", report_no):
        raise ValueError("report numbers are letters, digits and dashes")
    digest = sm3(pdf)
    line = f"v1 ed25519 {signer.key_id} {report_no} {digest} {signer.sign_text(_payload(report_no, digest))}\n"
    return pdf + MARK + line.encode("ascii")


def signed_digest(data: bytes) -> str:
    """The SM3 of the signed part of a report: every byte before the signature line."""
    at = data.rfind(MARK)
    return sm3(data if at < 0 else data[:at])


@dataclass(frozen=True)
class Verification:
    ok: bool
    message_zh: str
    report_no: str | None = None
    file_sm3: str | None = None
    key_id: str | None = None


def verify_pdf(data: bytes, keys: dict[str, Ed25519PublicKey]) -> Verification:
    at = data.rfind(MARK)
    if at < 0:
        return Verification(False, "文件没有电子签名:不是本平台出具的核对报告,或签名已被删除")
    body, line = data[:at], data[at + len(MARK):]
    match = _LINE.match(line)
    if not match:
        return Verification(False, "签名行格式不正确:文件末尾被改动")
    kid, report_no, digest, signature = (g.decode("ascii") for g in match.groups())
    if sm3(body) != digest:
        return Verification(False, "文件内容与签名时的SM3摘要不一致:报告已被改动", report_no, sm3(body), kid)
    public = keys.get(kid)
    if public is None:
        return Verification(False, f"签名密钥{kid}不在受信任的密钥中,无法确认出具机构", report_no, digest, kid)
    try:
        public.verify(base64.b64decode(signature), _payload(report_no, digest).encode("utf-8"))
    except (InvalidSignature, ValueError):
        return Verification(False, "电子签名无效:报告或签名已被改动", report_no, digest, kid)
    return Verification(True, f"报告{report_no}未被改动,电子签名有效(密钥{kid})", report_no, digest, kid)
