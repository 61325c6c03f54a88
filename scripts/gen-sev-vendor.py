#!/usr/bin/env python3
"""Make the emulated vendor root of sev-emulated's Secure Processor.

The emulated platform's ARK and ASK play AMD's: one RSA-4096 pair shared
by every emulated platform.  This script made them once; QEMU's
target/i386/sev-emulated-vendor.c.inc holds its output (the ARK and ASK
certificates and the ASK's private key, which signs the CEKs).  The
private keys are in tests/data/sev-vendor/: a test root, public on
purpose, that proves nothing.

  gen-sev-vendor.py DIR > sev-emulated-vendor.c.inc

reuses DIR/ark.pem and DIR/ask.pem when they exist.

  gen-sev-vendor.py --x509 DIR > sev-emulated-vendor-x509.c.inc

makes the same ARK and ASK as X.509 certificates, as AMD's key server
serves an SEV-SNP product line's (the names, RSA-PSS with SHA-384 and a
48-byte salt, the CA extensions), for the chains that go with the
emulated platform's VCEK.  It needs python3-cryptography 41 or later
(RSA-PSS certificates).
"""
import datetime
import os
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ARK_ID = b"QEMU-SEV-EMU-ARK"     # never one of AMD's key IDs
ASK_ID = b"QEMU-SEV-EMU-ASK"
USAGE_ARK, USAGE_ASK = 0x00, 0x13


def load_or_make(path):
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)
    key = rsa.generate_private_key(65537, 4096)
    with open(path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))
    return key


def le(n, size):
    return n.to_bytes(size, "little")


def cert(key_id, certifying_id, usage, pub, signer):
    """AMD signing key certificate (SEV API, appendix B.1)"""
    nums = pub.public_numbers()
    body = struct.pack("<I16s16sI16xII", 1, key_id, certifying_id, usage,
                       4096, 4096)
    body += le(nums.e, 512) + le(nums.n, 512)
    sig = signer.sign(body, padding.PSS(padding.MGF1(hashes.SHA384()), 48),
                      hashes.SHA384())
    return body + sig[::-1]


def carray(name, data):
    lines = ["static const uint8_t %s[%d] = {" % (name, len(data))]
    for i in range(0, len(data), 12):
        lines.append("    " + " ".join("0x%02x," % b for b in data[i:i + 12]))
    lines.append("};")
    return "\n".join(lines)


# The product line whose names the certificates take, as AMD's do
PRODUCT = "Milan"


def amd_name(cn):
    from cryptography import x509
    from cryptography.x509.oid import NameOID
    # AMD's order; the country is a PrintableString, the rest UTF8String
    return x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "Engineering"),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "Santa Clara"),
        x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "CA"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Advanced Micro Devices"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def x509_cert(subject, issuer, serial, key, signer, ca_ext):
    from cryptography import x509
    pss = padding.PSS(padding.MGF1(hashes.SHA384()), 48)
    builder = (x509.CertificateBuilder()
               .subject_name(subject).issuer_name(issuer)
               .public_key(key.public_key()).serial_number(serial)
               .not_valid_before(datetime.datetime(2025, 1, 1))
               .not_valid_after(datetime.datetime(2049, 12, 31, 23, 59, 59))
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                   key.public_key()), critical=False))
    for ext, critical in ca_ext:
        builder = builder.add_extension(ext, critical=critical)
    if signer is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(
                signer.public_key()), critical=False)
    return builder.sign(signer, hashes.SHA384(), rsa_padding=pss).public_bytes(
        serialization.Encoding.DER)


def main_x509(d):
    from cryptography import x509
    ark = load_or_make(os.path.join(d, "ark.pem"))
    ask = load_or_make(os.path.join(d, "ask.pem"))
    ark_name = amd_name("ARK-" + PRODUCT)
    ask_name = amd_name("SEV-" + PRODUCT)
    usage = dict(digital_signature=False, content_commitment=False,
                 key_encipherment=False, data_encipherment=False,
                 key_agreement=False, encipher_only=False,
                 decipher_only=False)
    ark_cert = x509_cert(ark_name, ark_name, 0x010000, ark, ark, [
        (x509.KeyUsage(key_cert_sign=True, crl_sign=True, **usage), True),
        (x509.BasicConstraints(ca=True, path_length=None), True)])
    ask_cert = x509_cert(ask_name, ark_name, 0x010001, ask, ark, [
        (x509.KeyUsage(key_cert_sign=True, crl_sign=False, **usage), True),
        (x509.BasicConstraints(ca=True, path_length=0), True)])
    print("/*\n * The emulated vendor root of sev-snp-emulated's Secure "
          "Processor as X.509\n * certificates: the ARK and ASK of "
          "sev-emulated-vendor.c.inc, named as\n * AMD names its %s "
          "ones.  Made once by scripts/gen-sev-vendor.py --x509\n"
          " * (sev-emulated's harness); see sev-emulated-psp.c.\n *\n"
          " * SPDX-License-Identifier: GPL-2.0-or-later\n */\n" % PRODUCT)
    print(carray("sev_emulated_ark_x509", ark_cert) + "\n")
    print(carray("sev_emulated_ask_x509", ask_cert))


def main():
    if sys.argv[1] == "--x509":
        main_x509(sys.argv[2])
        return
    d = sys.argv[1]
    ark = load_or_make(os.path.join(d, "ark.pem"))
    ask = load_or_make(os.path.join(d, "ask.pem"))
    ark_cert = cert(ARK_ID, ARK_ID, USAGE_ARK, ark.public_key(), ark)
    ask_cert = cert(ASK_ID, ARK_ID, USAGE_ASK, ask.public_key(), ark)
    ask_der = ask.private_bytes(serialization.Encoding.DER,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    print("/*\n * The emulated vendor root of sev-emulated's Secure Processor:"
          "\n * a test root, whose private keys are public.  Generated once"
          " with\n * RSA-4096 keys; see sev-emulated-psp.c.\n *\n"
          " * SPDX-License-Identifier: GPL-2.0-or-later\n */\n")
    print(carray("sev_emulated_ark_cert", ark_cert) + "\n")
    print(carray("sev_emulated_ask_cert", ask_cert) + "\n")
    print("/* The ASK's private key, PKCS#1 DER: it signs the CEKs */")
    print(carray("sev_emulated_ask_key", ask_der))


main()
