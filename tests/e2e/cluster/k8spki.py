"""Certificates and keys for the local cluster, made with the ``openssl`` command.

The openssl CLI (Debian's ``openssl`` package, present on every machine here) keeps the
start script free of Python dependencies beyond the standard library. ECDSA P-256
everywhere: Kubernetes and etcd accept it for serving, client and service-account keys,
and it is generated in microseconds where RSA takes a noticeable fraction of a second.
"""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

VALIDITY_DAYS = "30"
EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]


@dataclass(frozen=True)
class Issued:
    cert: Path
    key: Path


def openssl(*args: str, cwd: Path) -> None:
    exe = shutil.which("openssl")
    if exe is None:
        raise RuntimeError("the openssl command is missing: apt-get install openssl")
    result = subprocess.run([exe, *args], cwd=cwd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])} failed: {result.stderr.strip()}")


def _subject(common_name: str, organization: str | None) -> str:
    return (f"/O={organization}" if organization else "") + f"/CN={common_name}"


def _san(names: list[str]) -> str:
    entries = []
    for name in names:
        try:
            ipaddress.ip_address(name)
            entries.append(f"IP:{name}")
        except ValueError:
            entries.append(f"DNS:{name}")
    return ",".join(entries)


class CertificateAuthority:
    """A self-signed CA on disk that issues leaf certificates next to itself."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.cert_path = directory / "ca.crt"
        self.key_path = directory / "ca.key"

    @classmethod
    def create(cls, directory: Path, name: str = "trodden-local-ca") -> CertificateAuthority:
        """A new CA in ``directory`` (replacing any there)."""
        directory.mkdir(parents=True, exist_ok=True)
        openssl(
            "req",
            "-x509",
            "-new",
            *EC_KEY,
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            VALIDITY_DAYS,
            "-subj",
            f"/CN={name}",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign,digitalSignature",
            cwd=directory,
        )
        (directory / "ca.key").chmod(0o600)
        return cls(directory)

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        """The CA already in ``directory``."""
        if not (directory / "ca.key").exists():
            raise RuntimeError(f"no CA in {directory}")
        return cls(directory)

    def issue(
        self,
        stem: str,
        common_name: str,
        *,
        organization: str | None = None,
        server_names: list[str] | None = None,
        client: bool = True,
    ) -> Issued:
        """Issue ``<stem>.crt``/``<stem>.key``; a server cert when ``server_names`` is given."""
        usages = (["clientAuth"] if client else []) + (["serverAuth"] if server_names else [])
        extensions = [
            "basicConstraints=critical,CA:FALSE",
            "keyUsage=critical,digitalSignature,keyEncipherment",
            f"extendedKeyUsage={','.join(usages)}",
            "authorityKeyIdentifier=keyid",
        ]
        if server_names:
            extensions.append(f"subjectAltName={_san(server_names)}")
        ext_file = self.directory / f"{stem}.ext"
        ext_file.write_text("\n".join(extensions) + "\n")
        csr = f"{stem}.csr"
        openssl(
            "req",
            "-new",
            *EC_KEY,
            "-keyout",
            f"{stem}.key",
            "-out",
            csr,
            "-subj",
            _subject(common_name, organization),
            cwd=self.directory,
        )
        openssl(
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            VALIDITY_DAYS,
            "-sha256",
            "-extfile",
            ext_file.name,
            "-out",
            f"{stem}.crt",
            cwd=self.directory,
        )
        ext_file.unlink()
        (self.directory / csr).unlink()
        issued = Issued(self.directory / f"{stem}.crt", self.directory / f"{stem}.key")
        issued.key.chmod(0o600)
        return issued


def service_account_keys(directory: Path) -> Issued:
    """The key pair that signs and verifies service-account tokens (``sa.pub`` as "cert")."""
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "sa.key", cwd=directory)
    openssl("pkey", "-in", "sa.key", "-pubout", "-out", "sa.pub", cwd=directory)
    (directory / "sa.key").chmod(0o600)
    return Issued(cert=directory / "sa.pub", key=directory / "sa.key")
