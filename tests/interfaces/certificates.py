"""Certificates made by the TLS tests: a root CA, an intermediate CA and a
server certificate for 127.0.0.1 it signed (so the server must send the
intermediate: ``extraCertChain``), valid or expired, as PEM files."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class ServerFiles:
    """PEM files for one server, and the root a client must trust."""

    key: Path
    cert: Path
    chain: Path
    root: Path

    def endpoint(self, port: int) -> str:
        """The ``ssl:`` endpoint description serving this certificate."""
        return (
            f"ssl:{port}:interface=127.0.0.1:privateKey={self.key}:certKey={self.cert}"
            f":extraCertChain={self.chain}"
        )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, ca: bool, start, end, sans=None):
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    else:
        usage = x509.KeyUsage(True, False, False, False, False, False, False, False, False)
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
    builder = builder.add_extension(usage, critical=True)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _write(path: Path, *items) -> Path:
    data = b""
    for item in items:
        if isinstance(item, x509.Certificate):
            data += item.public_bytes(serialization.Encoding.PEM)
        else:
            data += item.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
    path.write_bytes(data)
    return path


def make_server_files(directory: Path, expired: bool = False) -> ServerFiles:
    """A fresh root, intermediate and server certificate in ``directory``."""
    now = datetime.datetime.now(datetime.UTC)
    day = datetime.timedelta(days=1)
    root_key, mid_key, key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = _certificate(
        "channels test root", "channels test root", root_key.public_key(), root_key, True,
        now - day, now + 30 * day,
    )  # fmt: skip
    mid = _certificate(
        "channels test intermediate", "channels test root", mid_key.public_key(), root_key,
        True, now - day, now + 30 * day,
    )  # fmt: skip
    start, end = (now - 30 * day, now - day) if expired else (now - day, now + 30 * day)
    leaf = _certificate(
        "127.0.0.1", "channels test intermediate", key.public_key(), mid_key, False, start, end,
        [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")],
    )  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    return ServerFiles(
        key=_write(directory / "server.key", key),
        cert=_write(directory / "server.pem", leaf),
        chain=_write(directory / "chain.pem", mid),
        root=_write(directory / "root.pem", root),
    )
