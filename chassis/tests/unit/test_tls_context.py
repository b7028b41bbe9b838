"""The outbound TLS context: loaded once per process and CA source, shared by every app the
process starts (a test suite starts one per test), and still following `SSL_CERT_FILE`."""

from __future__ import annotations

import datetime
import ssl
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from goldenpath_chassis._core.http_client import load_tls_context

pytestmark = pytest.mark.unit


def write_ca(path: Path) -> str:
    """A self-signed CA certificate in PEM at `path`; returns its common name."""
    name = f"goldenpath test CA {uuid.uuid4()}"
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return name


@pytest.fixture
def default_ca_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)


@pytest.mark.usefixtures("default_ca_source")
async def test_res1_the_ca_bundle_is_loaded_once_per_process() -> None:
    first, second = await load_tls_context(), await load_tls_context()
    assert first is second
    assert first.verify_mode == ssl.CERT_REQUIRED
    assert first.check_hostname
    assert len(first.get_ca_certs()) > 50, "certifi's bundle, not an empty store"


@pytest.mark.usefixtures("default_ca_source")
async def test_res1_ssl_cert_file_is_a_ca_source_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = await load_tls_context()
    bundle = tmp_path / "ca.pem"
    name = write_ca(bundle)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))

    custom = await load_tls_context()

    assert custom is not default
    assert [ca["subject"] for ca in custom.get_ca_certs()] == [((("commonName", name),),)]
    assert await load_tls_context() is custom
    monkeypatch.delenv("SSL_CERT_FILE")
    assert await load_tls_context() is default
