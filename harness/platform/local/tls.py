"""The run's TLS material: one CA and one server certificate for the loopback.

Made with the ``openssl`` CLI at ``up`` into ``<run_dir>/tls`` and shared by every
component that serves TLS (the SeaweedFS S3 gateway first: pgBackRest 2.45 speaks S3
only over HTTPS). The certificate names both ``127.0.0.1`` (SAN IP) and ``localhost``
(SAN DNS, also the CN) because clients differ in which one they check. The CA and the
server certificate and key are readable by the DB user, which runs pgBackRest.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from harness.platform.local.context import StackContext
from harness.platform.local.process import require_binary, run_checked

#: Short validity on purpose: the material belongs to one run.
VALID_DAYS = 30


@dataclass(frozen=True)
class TlsMaterial:
    """PEM files of the run's CA and of the loopback server certificate."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def ensure_tls(ctx: StackContext) -> TlsMaterial:
    """Return the run's TLS material, making it on first use (later calls reuse it)."""
    tls_dir = ctx.tls_dir()
    material = TlsMaterial(
        ca_cert=tls_dir / "ca.crt",
        server_cert=tls_dir / "server.crt",
        server_key=tls_dir / "server.key",
    )
    if all(p.exists() for p in (material.ca_cert, material.server_cert, material.server_key)):
        return material
    openssl = require_binary("openssl", "install it with `apt-get install openssl`.")
    ca_key = tls_dir / "ca.key"
    csr = tls_dir / "server.csr"
    extensions = tls_dir / "server.ext"
    extensions.write_text(
        "basicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\n"
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
    )
    run_checked(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(ca_key),
            "-out",
            str(material.ca_cert),
            "-days",
            str(VALID_DAYS),
            "-subj",
            f"/CN=odoo-resilience CA {ctx.run_id}",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
        "making the run's CA",
    )
    run_checked(
        [
            openssl,
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(material.server_key),
            "-out",
            str(csr),
            "-subj",
            "/CN=localhost",
        ],
        "making the server key",
    )
    run_checked(
        [
            openssl,
            "x509",
            "-req",
            "-in",
            str(csr),
            "-CA",
            str(material.ca_cert),
            "-CAkey",
            str(ca_key),
            "-set_serial",
            str(secrets.randbits(63)),
            "-days",
            str(VALID_DAYS),
            "-extfile",
            str(extensions),
            "-out",
            str(material.server_cert),
        ],
        "signing the server certificate",
    )
    csr.unlink()
    extensions.unlink()
    # The CA key signs nothing after this; only root may read it.
    os.chmod(ca_key, 0o600)
    for public in (material.ca_cert, material.server_cert):
        os.chmod(public, 0o644)
    # Servers that run as the DB user must read their key; nobody else may.
    os.chmod(material.server_key, 0o640)
    if os.geteuid() == 0:
        os.chown(material.server_key, 0, ctx.db_user.gid)
    return material
