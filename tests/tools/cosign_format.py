#!/usr/bin/python3
"""cosign's key and signature format, written independently of hoist (Python `cryptography` + PyNaCl), so
tests can show hoist reads what cosign writes and writes what cosign reads. From cosign's published format:

- pkg/cosign/keys.go: a key pair is ECDSA P-256; the private key is PKCS#8 DER encrypted with
  go-securesystemslib's `encrypted.Encrypt` and put in a PEM block labelled `ENCRYPTED SIGSTORE PRIVATE KEY`
  (cosign >= 2.0) or `ENCRYPTED COSIGN PRIVATE KEY` (older cosign, skopeo); the public key is PEM `PUBLIC KEY`
  (PKIX SubjectPublicKeyInfo).
- go-securesystemslib encrypted/encrypted.go: the JSON `{"kdf":{"name":"scrypt","params":{"N":..,"r":8,"p":1},
  "salt":B64},"cipher":{"name":"nacl/secretbox","nonce":B64},"ciphertext":B64}` (Go's []byte as standard
  base64); scrypt with a 32-byte salt gives the 32-byte secretbox key; the nonce is 24 bytes; decryption
  accepts only N in {2^15, 2^16, 2^17} with r=8, p=1.
- cosign's simple signing payload (sigstore/sigstore pkg/signature/payload): `{"critical":{"identity":
  {"docker-reference":REPO},"image":{"docker-manifest-digest":DIGEST},"type":"cosign container image
  signature"},"optional":null}`, signed with ECDSA P-256 over SHA-256, the ASN.1 DER signature base64 in
  the `dev.cosignproject.cosign/signature` annotation of a layer of media type
  `application/vnd.dev.cosign.simplesigning.v1+json`.

Commands (a passphrase is the first line of --passphrase-file, as cosign's and skopeo's file options read it):
  generate-key-pair --output-prefix P --passphrase-file F [--label sigstore|cosign] [--scrypt-n N]
      writes P.key (0600) and P.pub
  public-key --key K --passphrase-file F        decrypts K, prints its public key PEM
  sign --key K --passphrase-file F --digest D --reference R [--optional JSON]
      prints {"mediaType":..,"payload":B64,"annotations":{..}}
  verify --public-key P --payload-file X --signature B64
      exit 0 and prints {"digest":..,"reference":..} when P verifies; exit 1 with the reason otherwise
"""

import argparse
import base64
import json
import os
import sys

import nacl.exceptions
import nacl.secret
import nacl.utils
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

LABELS = {
    "sigstore": "ENCRYPTED SIGSTORE PRIVATE KEY",
    "cosign": "ENCRYPTED COSIGN PRIVATE KEY",
}
ACCEPTED_SCRYPT = [(1 << 15, 8, 1), (1 << 16, 8, 1), (1 << 17, 8, 1)]
MEDIA_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def passphrase(path):
    with open(path, "rb") as f:
        line = f.readline()
    return line[:-1] if line.endswith(b"\n") else line


def pem_encode(label, der):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN %s-----\n%s\n-----END %s-----\n" % (label, "\n".join(lines), label)


def pem_decode(text):
    lines = text.strip().splitlines()
    begin, end = lines[0], lines[-1]
    if not (begin.startswith("-----BEGIN ") and begin.endswith("-----")):
        fail("not PEM")
    label = begin[len("-----BEGIN ") : -len("-----")]
    if end != "-----END %s-----" % label:
        fail("PEM block not terminated")
    return label, base64.b64decode("".join(lines[1:-1]), validate=True)


def scrypt_key(secret, salt, n, r, p):
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(secret)


def encrypt(plaintext, secret, n):
    salt = os.urandom(32)
    box = nacl.secret.SecretBox(scrypt_key(secret, salt, n, 8, 1))
    nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
    sealed = box.encrypt(plaintext, nonce).ciphertext  # tag || ciphertext, as Go's secretbox.Seal
    envelope = {
        "kdf": {"name": "scrypt", "params": {"N": n, "r": 8, "p": 1}, "salt": base64.b64encode(salt).decode()},
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    return json.dumps(envelope, separators=(",", ":")).encode()


def decrypt(data, secret):
    envelope = json.loads(data)
    kdf, cipher = envelope["kdf"], envelope["cipher"]
    if kdf["name"] != "scrypt" or cipher["name"] != "nacl/secretbox":
        fail("unknown kdf or cipher")
    params = (kdf["params"]["N"], kdf["params"]["r"], kdf["params"]["p"])
    if params not in ACCEPTED_SCRYPT:
        fail("unsupported scrypt parameters")
    key = scrypt_key(secret, base64.b64decode(kdf["salt"]), *params)
    box = nacl.secret.SecretBox(key)
    try:
        return box.decrypt(base64.b64decode(envelope["ciphertext"]), base64.b64decode(cipher["nonce"]))
    except nacl.exceptions.CryptoError:
        fail("decryption failed")


def load_private(path, secret):
    with open(path) as f:
        label, data = pem_decode(f.read())
    if label not in LABELS.values():
        fail("unsupported pem type: " + label)
    key = serialization.load_der_private_key(decrypt(data, secret), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        fail("not an ECDSA P-256 key")
    return key


def public_pem(key):
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def cmd_generate(a):
    key = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    private = pem_encode(LABELS[a.label], encrypt(pkcs8, passphrase(a.passphrase_file), a.scrypt_n))
    fd = os.open(a.output_prefix + ".key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(private)
    with open(a.output_prefix + ".pub", "x") as f:
        f.write(public_pem(key))


def cmd_public_key(a):
    sys.stdout.write(public_pem(load_private(a.key, passphrase(a.passphrase_file))))


def cmd_sign(a):
    key = load_private(a.key, passphrase(a.passphrase_file))
    payload = {
        "critical": {
            "identity": {"docker-reference": a.reference},
            "image": {"docker-manifest-digest": a.digest},
            "type": SIGNATURE_TYPE,
        },
        "optional": json.loads(a.optional),
    }
    data = json.dumps(payload, separators=(",", ":")).encode()
    signature = key.sign(data, ec.ECDSA(hashes.SHA256()))
    out = {
        "mediaType": MEDIA_TYPE,
        "payload": base64.b64encode(data).decode(),
        "annotations": {ANNOTATION: base64.b64encode(signature).decode()},
    }
    print(json.dumps(out))


def cmd_verify(a):
    with open(a.public_key) as f:
        label, der = pem_decode(f.read())
    if label != "PUBLIC KEY":
        fail("not a public key")
    key = serialization.load_der_public_key(der)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        fail("not an ECDSA P-256 key")
    with open(a.payload_file, "rb") as f:
        data = f.read()
    try:
        key.verify(base64.b64decode(a.signature, validate=True), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as e:
        fail("signature verification failed: %r" % e)
    payload = json.loads(data)
    critical = payload["critical"]
    if set(payload) != {"critical", "optional"} or set(critical) != {"identity", "image", "type"}:
        fail("unexpected payload keys")
    if critical["type"] != SIGNATURE_TYPE:
        fail("unexpected signature type")
    print(json.dumps({
        "digest": critical["image"]["docker-manifest-digest"],
        "reference": critical["identity"]["docker-reference"],
        "optional": payload["optional"],
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate-key-pair")
    g.add_argument("--output-prefix", required=True)
    g.add_argument("--passphrase-file", required=True)
    g.add_argument("--label", choices=sorted(LABELS), default="sigstore")
    g.add_argument("--scrypt-n", type=int, default=1 << 16)
    g.set_defaults(run=cmd_generate)
    p = sub.add_parser("public-key")
    p.add_argument("--key", required=True)
    p.add_argument("--passphrase-file", required=True)
    p.set_defaults(run=cmd_public_key)
    s = sub.add_parser("sign")
    s.add_argument("--key", required=True)
    s.add_argument("--passphrase-file", required=True)
    s.add_argument("--digest", required=True)
    s.add_argument("--reference", required=True)
    s.add_argument("--optional", default="null")
    s.set_defaults(run=cmd_sign)
    v = sub.add_parser("verify")
    v.add_argument("--public-key", required=True)
    v.add_argument("--payload-file", required=True)
    v.add_argument("--signature", required=True)
    v.set_defaults(run=cmd_verify)
    a = parser.parse_args()
    a.run(a)


if __name__ == "__main__":
    main()
