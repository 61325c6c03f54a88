#!/usr/bin/env python3
"""Check an SEV-SNP attestation report as a verifier does, sharing no
code with QEMU: written from the SEV-SNP firmware ABI (the report,
version 3) and the GHCB specification (the certificate table).

usage: snp-report.py SERIAL-LOG OUT-DIR [--report LABEL] [--expect FIELD=HEX ...]

SERIAL-LOG is the test guest's serial output, with the report and the
certificate table that configfs-tsm gave it (scripts/assets.sh's
/init prints them in hex).  Writes OUT-DIR/report.bin, the table
(cert-table.bin) and the certificates it holds (vcek.pem, ask.pem,
ark.pem), checks the
report's signature with the VCEK's key, checks each --expect'ed field
(report_data, measurement, host_data, chip_id, policy, vmpl,
reported_tcb: hex, little-endian numbers as the report holds them), and
prints the report's fields.  Exit status 1 if anything does not match.
The chain itself is for openssl to check (the caller's).

Needs python3-cryptography (Debian's).
"""
import argparse
import binascii
import re
import struct
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

REPORT_SIZE = 0x4A0
SIGNED = 0x2A0

# (name, offset, size) of the report's fields (ABI, "ATTESTATION_REPORT")
FIELDS = [
    ("version", 0x000, 4), ("guest_svn", 0x004, 4), ("policy", 0x008, 8),
    ("family_id", 0x010, 16), ("image_id", 0x020, 16), ("vmpl", 0x030, 4),
    ("signature_algo", 0x034, 4), ("current_tcb", 0x038, 8),
    ("platform_info", 0x040, 8), ("signer_info", 0x048, 4),
    ("report_data", 0x050, 64), ("measurement", 0x090, 48),
    ("host_data", 0x0C0, 32), ("id_key_digest", 0x0E0, 48),
    ("author_key_digest", 0x110, 48), ("report_id", 0x140, 32),
    ("report_id_ma", 0x160, 32), ("reported_tcb", 0x180, 8),
    ("cpuid_fam_id", 0x188, 1), ("cpuid_mod_id", 0x189, 1),
    ("cpuid_step", 0x18A, 1), ("chip_id", 0x1A0, 64),
    ("committed_tcb", 0x1E0, 8), ("current_build", 0x1E8, 1),
    ("current_minor", 0x1E9, 1), ("current_major", 0x1EA, 1),
    ("committed_build", 0x1EC, 1), ("committed_minor", 0x1ED, 1),
    ("committed_major", 0x1EE, 1), ("launch_tcb", 0x1F0, 8),
]
# Reserved ranges, which must be zero
RESERVED = [(0x04C, 4), (0x18B, 21), (0x1EB, 1), (0x1EF, 1), (0x1F8, 0xA8),
            (SIGNED + 0x90, 0x200 - 0x90)]

# The certificate table's GUIDs, in the byte order of their text
GUIDS = {
    "63da758d-e664-4564-adc5-f4b93be8accd": "vcek",
    "4ab7b379-bbac-4fe4-a02f-05aef327c782": "ask",
    "c0b406a4-a803-4952-9743-3fb6014cd0ae": "ark",
}


def from_log(log, what):
    m = re.search(r"^sev-emulated-init: %s: ([0-9a-f]*)\r?$" % what, log, re.M)
    if not m or not m.group(1):
        sys.exit("no %s in the guest's output" % what)
    return binascii.unhexlify(m.group(1))


def cert_table(blob):
    """The certificates of a GHCB certificate table: {name: DER}"""
    certs = {}
    for i in range(0, len(blob), 24):
        guid, off, length = struct.unpack_from("<16sII", blob, i)
        if guid == bytes(16) and off == 0 and length == 0:
            return certs
        text = "-".join(guid.hex()[a:b] for a, b in
                        ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32)))
        if off < i + 24 or off + length > len(blob):
            sys.exit("certificate %s lies outside the table" % text)
        certs[GUIDS.get(text, text)] = blob[off:off + length]
    sys.exit("the certificate table has no terminating entry")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("log")
    parser.add_argument("out")
    parser.add_argument("--expect", action="append", default=[],
                        metavar="FIELD=HEX")
    parser.add_argument("--report", default="report",
                        help="which of the guest's reports (its label)")
    args = parser.parse_args()
    log = open(args.log, errors="replace").read()
    out = args.out
    expect = dict(e.split("=", 1) for e in args.expect)
    report = from_log(log, args.report)
    table = from_log(log, "report certificates")
    certs = cert_table(table)
    with open(out + "/cert-table.bin", "wb") as f:
        f.write(table)
    errors = []
    if len(report) != REPORT_SIZE:
        sys.exit("the report has %d bytes, not %d" % (len(report), REPORT_SIZE))
    with open(out + "/report.bin", "wb") as f:
        f.write(report)
    for name in ("vcek", "ask", "ark"):
        if name not in certs:
            sys.exit("the certificate table has no %s" % name.upper())
        cert = x509.load_der_x509_certificate(certs[name])
        with open("%s/%s.pem" % (out, name), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))

    fields = {n: report[o:o + s] for n, o, s in FIELDS}
    for off, size in RESERVED:
        if any(report[off:off + size]):
            errors.append("reserved bytes at 0x%x are not zero" % off)

    # The signature: ECDSA P-384 with SHA-384 over the report's first
    # 0x2A0 bytes, R and S little-endian in 72-byte fields
    vcek = x509.load_der_x509_certificate(certs["vcek"])
    r = int.from_bytes(report[SIGNED:SIGNED + 72], "little")
    s = int.from_bytes(report[SIGNED + 72:SIGNED + 144], "little")
    try:
        vcek.public_key().verify(utils.encode_dss_signature(r, s),
                                 report[:SIGNED], ec.ECDSA(hashes.SHA384()))
    except InvalidSignature:
        errors.append("the VCEK's signature does not match the report")

    for name, want in expect.items():
        if name not in fields:
            sys.exit("no field %s" % name)
        if fields[name].hex() != want.lower():
            errors.append("%s is %s, not %s" % (name, fields[name].hex(), want))
    for name, value in fields.items():
        print("%s: %s" % (name, value.hex()))
    if errors:
        print("FAILED: " + "; ".join(errors))
        return 1
    print("signature: good (VCEK %s)" % vcek.subject.rfc4514_string())
    return 0


sys.exit(main())
