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
"""
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


def main():
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
