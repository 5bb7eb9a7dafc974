"""Creates a stage's keys and secrets in SSM Parameter Store, once, before `sam deploy`.

  python3 scripts/create-secrets.py --stage dev [--prefix /milkrun] [--admin-password PASS]

Under <prefix>/<stage>/:
  signing-key        SecureString  Ed25519 private key (PKCS#8 PEM): the user function only
  verifying-key      String        its public key (SPKI PEM): every function, the authorizer
  cursor-key         SecureString  HMAC key sealing list cursors: every HTTP function
  verification-key   SecureString  HMAC key of email verification tokens: user, notification
  webhook-secret     SecureString  HMAC key of the payment gateway's webhook signatures
  admin-password     SecureString  the bootstrap administrator's password (only if given)

Existing parameters are left as they are (keys are not rotated by accident); --rotate
replaces the signing key pair and the HMAC keys. The template passes functions only these
names, and IAM lets each read only its own. Needs boto3 and cryptography (scripts/setup-tools.sh
installs both into .venv).
"""

from __future__ import annotations

import argparse
import secrets
import sys

import boto3
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def key_pair() -> tuple[str, str]:
    private = Ed25519PrivateKey.generate()
    private_pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()).decode()
    public_pem = private.public_key().public_bytes(serialization.Encoding.PEM,
                                                   serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private_pem, public_pem


def existing(ssm, name: str) -> bool:
    try:
        ssm.get_parameter(Name=name)
        return True
    except ssm.exceptions.ParameterNotFound:
        return False


def create(ssm, prefix: str, stage: str, admin_password: str | None = None, rotate: bool = False) -> list[str]:
    """Creates what is missing (everything, with `rotate`); answers the names written."""
    base = f"{prefix.rstrip('/')}/{stage}"
    written = []

    def put(name: str, value: str, kind: str = "SecureString"):
        ssm.put_parameter(Name=f"{base}/{name}", Value=value, Type=kind, Overwrite=True)
        written.append(f"{base}/{name}")

    if rotate or not existing(ssm, f"{base}/signing-key"):
        private_pem, public_pem = key_pair()
        put("signing-key", private_pem)
        put("verifying-key", public_pem, kind="String")
    for name in ("cursor-key", "verification-key", "webhook-secret"):
        if rotate or not existing(ssm, f"{base}/{name}"):
            put(name, secrets.token_urlsafe(48))
    if admin_password is not None:
        put("admin-password", admin_password)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True, choices=["dev", "prod"])
    parser.add_argument("--prefix", default="/milkrun")
    parser.add_argument("--admin-password")
    parser.add_argument("--rotate", action="store_true")
    parser.add_argument("--endpoint-url", help="an emulator (moto) instead of AWS")
    args = parser.parse_args()
    ssm = boto3.client("ssm", endpoint_url=args.endpoint_url)
    for name in create(ssm, args.prefix, args.stage, args.admin_password, args.rotate):
        print(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
