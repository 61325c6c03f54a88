#!/usr/bin/python3
# The guest owner's side of the AMD SEV / SEV-ES (not SNP) launch key
# exchange, for the test harness:
#
#   verify-chain   check ARK -> ASK -> CEK, OCA -> PEK <- CEK, PEK -> PDH
#   session        make a GODH certificate and a LAUNCH_START session
#                  (TEK/TIK wrapped for the platform's PDH)
#   verify-report  check a legacy SEV ATTESTATION report signed by the PEK
#   selftest       known-answer tests of the KDF, the session and the
#                  LAUNCH_MEASURE MAC, and a GODH round trip
#
# Layouts and rules follow notes/psp-research.md (sections 1, 2, 3.2, 4, 5).
# Everything on the wire is little-endian, except the ECDH shared secret Z,
# which is the big-endian X coordinate, as OpenSSL returns it.
#
# Runs under Debian 12's /usr/bin/python3 with python3-cryptography 38.

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    encode_dss_signature)
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class Fail(Exception):
    """A verification failure or bad input; main() prints it on one line."""


# --- constants -------------------------------------------------------------

# SEV certificate (PDH, PEK, OCA, CEK, GODH): always 0x824 bytes.
SEV_CERT_LEN = 0x824
SEV_SIGNED_LEN = 0x414          # VERSION .. end of PUBKEY
SEV_SIG_SLOTS = (0x414, 0x61C)  # each: USAGE u32, ALGO u32, 0x200 bytes
SEV_SIG_LEN = 0x200
ECC_COORD_LEN = 72              # QX, QY, R, S: 72 bytes LE, P-384 uses 48

USAGE_ARK = 0x0000
USAGE_ASK = 0x0013
USAGE_INVALID = 0x1000
USAGE_OCA = 0x1001
USAGE_PEK = 0x1002
USAGE_PDH = 0x1003
USAGE_CEK = 0x1004

ALGO_INVALID = 0x000
ALGO_RSA_SHA256 = 0x001
ALGO_ECDSA_SHA256 = 0x002
ALGO_ECDH_SHA256 = 0x003
ALGO_RSA_SHA384 = 0x101
ALGO_ECDSA_SHA384 = 0x102

CURVE_P384 = 2
P384_P = 2**384 - 2**128 - 2**96 + 2**32 - 1

SESSION_LEN = 0x80
REPORT_LEN = 0xD0
REPORT_SIGNED_LEN = 0x34        # MNONCE, LAUNCH_DIGEST, POLICY

# Only used to name a root in the output; no root is pinned (an emulated
# platform has its own ARK, passed with --ca).
KNOWN_ARK_IDS = {
    "1bb987c359494606b174945601c9ea5b": "AMD Naples",
    "e6002122fb58419399d15fee7b131351": "AMD Rome",
    "94c38e4177d0479292a7ae671d083fb6": "AMD Milan",
    "9f9d4a8fe761456599f6946c4c010f3a": "AMD Genoa",
}


def u32(data, off):
    return struct.unpack_from("<I", data, off)[0]


def le_int(data):
    return int.from_bytes(data, "little")


def is_zero(data):
    return not any(data)


def hash_for_algo(algo):
    """The hash a key of this PUBKEY_ALGO signs with."""
    if algo in (ALGO_ECDSA_SHA256, ALGO_RSA_SHA256, ALGO_ECDH_SHA256):
        return hashes.SHA256()
    if algo in (ALGO_ECDSA_SHA384, ALGO_RSA_SHA384):
        return hashes.SHA384()
    raise Fail(f"unknown algorithm 0x{algo:x}")


# --- SEV certificates (PDH, PEK, OCA, CEK, GODH) ---------------------------

class SevCert:
    """A parsed 0x824-byte SEV certificate with a P-384 key."""

    def __init__(self, raw, name):
        if len(raw) != SEV_CERT_LEN:
            raise Fail(f"{name}: is {len(raw)} bytes, "
                       f"a SEV certificate is {SEV_CERT_LEN}")
        self.raw = raw
        self.name = name
        self.version = u32(raw, 0x0)
        self.api_major = raw[0x4]
        self.api_minor = raw[0x5]
        self.usage = u32(raw, 0x8)
        self.algo = u32(raw, 0xC)
        if self.version != 1:
            raise Fail(f"{name}: VERSION is {self.version}, expected 1")
        if self.algo not in (ALGO_ECDSA_SHA256, ALGO_ECDSA_SHA384,
                             ALGO_ECDH_SHA256):
            raise Fail(f"{name}: PUBKEY_ALGO 0x{self.algo:x} is not "
                       "ECDSA/ECDH (only P-384 keys are supported)")
        # ECC public key at 0x10: CURVE, QX[72], QY[72], then zeros.
        key = raw[0x10:SEV_SIGNED_LEN]
        self.curve = u32(key, 0)
        if self.curve != CURVE_P384:
            raise Fail(f"{name}: curve {self.curve}, expected 2 (P-384)")
        qx = key[4:4 + ECC_COORD_LEN]
        qy = key[4 + ECC_COORD_LEN:4 + 2 * ECC_COORD_LEN]
        if not (is_zero(qx[48:]) and is_zero(qy[48:])
                and is_zero(key[4 + 2 * ECC_COORD_LEN:])):
            raise Fail(f"{name}: reserved bytes of the public key "
                       "are not zero")
        self.x = le_int(qx)
        self.y = le_int(qy)
        if self.x >= P384_P or self.y >= P384_P:
            raise Fail(f"{name}: public key coordinate >= p")
        try:
            # Refuses points that are not on the curve.
            self.public_key = ec.EllipticCurvePublicNumbers(
                self.x, self.y, ec.SECP384R1()).public_key()
        except ValueError:
            raise Fail(f"{name}: public key is not a point on P-384")
        self.slots = []
        for off in SEV_SIG_SLOTS:
            self.slots.append((u32(raw, off), u32(raw, off + 4),
                               raw[off + 8:off + 8 + SEV_SIG_LEN]))

    def body(self):
        return self.raw[:SEV_SIGNED_LEN]


def build_godh_cert(public_key):
    """The owner's GODH certificate (section 4.2): VERSION 1, API 0.0,
    usage PDH, ECDH_SHA256, P-384, both signature slots empty (the
    firmware does not check GODH signatures)."""
    nums = public_key.public_numbers()
    cert = bytearray(SEV_CERT_LEN)
    struct.pack_into("<IBBHII", cert, 0, 1, 0, 0, 0, USAGE_PDH,
                     ALGO_ECDH_SHA256)
    struct.pack_into("<I", cert, 0x10, CURVE_P384)
    cert[0x14:0x14 + ECC_COORD_LEN] = nums.x.to_bytes(ECC_COORD_LEN, "little")
    cert[0x5C:0x5C + ECC_COORD_LEN] = nums.y.to_bytes(ECC_COORD_LEN, "little")
    for off in SEV_SIG_SLOTS:
        struct.pack_into("<II", cert, off, USAGE_INVALID, ALGO_INVALID)
    return bytes(cert)


# --- AMD root certificates (ARK, ASK) --------------------------------------

class AmdCert:
    """A parsed ARK or ASK (Appendix B.1 layout, section 2)."""

    def __init__(self, data, offset, name):
        self.name = name
        if len(data) - offset < 0x40:
            raise Fail(f"{name}: truncated header")
        self.version = u32(data, offset)
        self.key_id = data[offset + 0x04:offset + 0x14]
        self.certifying_id = data[offset + 0x14:offset + 0x24]
        self.key_usage = u32(data, offset + 0x24)
        self.pubexp_bits = u32(data, offset + 0x38)
        self.modulus_bits = u32(data, offset + 0x3C)
        if self.version != 1:
            raise Fail(f"{name}: VERSION is {self.version}, expected 1")
        for what, bits in (("PUBEXP_SIZE", self.pubexp_bits),
                           ("MODULUS_SIZE", self.modulus_bits)):
            if bits not in (2048, 4096):
                raise Fail(f"{name}: {what} {bits} is not 2048 or 4096")
        if self.pubexp_bits != self.modulus_bits:
            raise Fail(f"{name}: PUBEXP_SIZE {self.pubexp_bits} != "
                       f"MODULUS_SIZE {self.modulus_bits}")
        elen = self.pubexp_bits // 8
        self.mlen = self.modulus_bits // 8
        self.signed_len = 0x40 + elen + self.mlen
        self.length = self.signed_len + self.mlen
        if len(data) - offset < self.length:
            raise Fail(f"{name}: truncated: needs {self.length} bytes, "
                       f"{len(data) - offset} left")
        self.raw = data[offset:offset + self.length]
        e = le_int(self.raw[0x40:0x40 + elen])
        n = le_int(self.raw[0x40 + elen:self.signed_len])
        self.signature = self.raw[self.signed_len:]     # LE, byte-reversed
        try:
            self.public_key = rsa.RSAPublicNumbers(e, n).public_key()
        except ValueError as exc:
            raise Fail(f"{name}: bad RSA public key ({exc})")
        # A 4096-bit AMD key signs with RSA-PSS SHA-384, a 2048-bit one
        # with SHA-256; that is also the ALGO a SEV cert's slot names.
        if self.modulus_bits == 4096:
            self.algo = ALGO_RSA_SHA384
        else:
            self.algo = ALGO_RSA_SHA256

    def body(self):
        return self.raw[:self.signed_len]


def parse_ask_ark(data):
    """ASK||ARK, as in AMD's ask_ark_<gen>.cert; sizes from the headers."""
    ask = AmdCert(data, 0, "ASK")
    if ask.length == len(data):
        raise Fail("CA file: holds one certificate, expected ASK||ARK")
    ark = AmdCert(data, ask.length, "ARK")
    if ask.length + ark.length != len(data):
        raise Fail(f"CA file: {len(data) - ask.length - ark.length} "
                   "bytes after ASK||ARK")
    if ask.key_usage == USAGE_ARK and ark.key_usage == USAGE_ASK:
        raise Fail("CA file: holds ARK||ASK, expected ASK||ARK")
    return ask, ark


# --- signature checks ------------------------------------------------------

def rsa_pss_verify(signer, sig_le, data, what):
    """RSASSA-PSS, MGF1 with the same hash, salt length == digest length
    (exactly, as sevctl requires). The stored signature is byte-reversed."""
    algo = hash_for_algo(signer.algo)
    try:
        signer.public_key.verify(
            sig_le[::-1], data,
            padding.PSS(mgf=padding.MGF1(algo), salt_length=algo.digest_size),
            algo)
    except InvalidSignature:
        raise Fail(f"{what}: bad RSA-PSS signature")


def ecdsa_verify(public_key, algo, r_le, s_le, data, what):
    """ECDSA with a P-384 key; r and s are 72-byte little-endian. With
    SHA-256 the 32-byte digest is used as is (shorter than the order)."""
    sig = encode_dss_signature(le_int(r_le), le_int(s_le))
    try:
        public_key.verify(sig, data, ec.ECDSA(algo))
    except InvalidSignature:
        raise Fail(f"{what}: bad ECDSA signature")


def check_slots(cert, signers):
    """Check both signature slots of a SEV cert.

    signers: list of (name, signer) where signer is a SevCert or AmdCert.
    Each expected signer must own exactly one slot whose USAGE and ALGO
    equal the signer's; every other slot must be empty (usage INVALID,
    algo 0, all zero) so that no byte of the cert goes unchecked."""
    found = set()
    for i, (usage, algo, sig) in enumerate(cert.slots, 1):
        where = f"{cert.name} SIG{i}"
        if usage == USAGE_INVALID:
            if algo != ALGO_INVALID or not is_zero(sig):
                raise Fail(f"{where}: empty slot is not all zero")
            continue
        match = [(n, s) for n, s in signers
                 if (s.key_usage if isinstance(s, AmdCert) else s.usage)
                 == usage]
        if not match:
            raise Fail(f"{where}: signed by usage 0x{usage:x}, "
                       f"expected {' or '.join(n for n, _ in signers)}")
        name, signer = match[0]
        if name in found:
            raise Fail(f"{where}: second signature by {name}")
        if algo != signer.algo:
            raise Fail(f"{where}: ALGO 0x{algo:x} != {name}'s "
                       f"PUBKEY_ALGO 0x{signer.algo:x}")
        what = f"{name} -> {cert.name}"
        if isinstance(signer, AmdCert):
            if not is_zero(sig[signer.mlen:]):
                raise Fail(f"{where}: bytes after the RSA signature "
                           "are not zero")
            rsa_pss_verify(signer, sig[:signer.mlen], cert.body(), what)
        else:
            if not is_zero(sig[2 * ECC_COORD_LEN:]):
                raise Fail(f"{where}: bytes after R and S are not zero")
            ecdsa_verify(signer.public_key, hash_for_algo(signer.algo),
                         sig[:ECC_COORD_LEN],
                         sig[ECC_COORD_LEN:2 * ECC_COORD_LEN],
                         cert.body(), what)
        found.add(name)
    for name, _ in signers:
        if name not in found:
            hint = ""
            if cert.name == "CEK" and name == "ASK":
                hint = (" (hardware exports an unsigned CEK: pass the "
                        "ASK-signed one from AMD's KDS with --cek)")
            raise Fail(f"{cert.name} is not signed by {name}{hint}")


def expect(cert, usage, algos):
    if cert.usage != usage:
        raise Fail(f"{cert.name}: PUBKEY_USAGE 0x{cert.usage:x}, "
                   f"expected 0x{usage:x}")
    if cert.algo not in algos:
        raise Fail(f"{cert.name}: PUBKEY_ALGO 0x{cert.algo:x}, expected "
                   + " or ".join(f"0x{a:x}" for a in algos))


def verify_chain(pdh_raw, chain_raw, ca_raw):
    """Verify ARK -> ASK -> CEK, OCA -> PEK, CEK -> PEK, PEK -> PDH.
    Returns the parsed PDH and PEK. Prints one line per link."""
    if len(chain_raw) != 3 * SEV_CERT_LEN:
        raise Fail(f"cert-chain: is {len(chain_raw)} bytes, expected "
                   f"{3 * SEV_CERT_LEN} (PEK||OCA||CEK)")
    pdh = SevCert(pdh_raw, "PDH")
    pek = SevCert(chain_raw[0:SEV_CERT_LEN], "PEK")
    oca = SevCert(chain_raw[SEV_CERT_LEN:2 * SEV_CERT_LEN], "OCA")
    cek = SevCert(chain_raw[2 * SEV_CERT_LEN:], "CEK")
    ask, ark = parse_ask_ark(ca_raw)

    ecdsa = (ALGO_ECDSA_SHA256, ALGO_ECDSA_SHA384)
    expect(oca, USAGE_OCA, ecdsa)
    expect(pek, USAGE_PEK, ecdsa)
    expect(cek, USAGE_CEK, ecdsa)
    expect(pdh, USAGE_PDH, (ALGO_ECDH_SHA256,))
    if ark.key_usage != USAGE_ARK:
        raise Fail(f"ARK: KEY_USAGE 0x{ark.key_usage:x}, expected 0x0")
    if ask.key_usage != USAGE_ASK:
        raise Fail(f"ASK: KEY_USAGE 0x{ask.key_usage:x}, expected 0x13")

    ark_id = ark.key_id.hex()
    known = KNOWN_ARK_IDS.get(ark_id)
    print(f"ARK KEY_ID: {ark_id}" + (f" ({known})" if known else ""))
    print(f"ASK KEY_ID: {ask.key_id.hex()}")

    if ark.certifying_id != ark.key_id:
        raise Fail("ARK: CERTIFYING_ID != KEY_ID (not self-signed)")
    if ark.mlen != len(ark.signature):
        raise Fail("ARK: signature size != modulus size")
    rsa_pss_verify(ark, ark.signature, ark.body(), "ARK -> ARK")
    print("ARK -> ARK: ok")

    if ask.certifying_id != ark.key_id:
        raise Fail(f"ASK: CERTIFYING_ID {ask.certifying_id.hex()} != "
                   f"ARK KEY_ID {ark_id}")
    if ark.mlen != len(ask.signature):
        raise Fail("ASK: signature size != ARK modulus size")
    rsa_pss_verify(ark, ask.signature, ask.body(), "ARK -> ASK")
    print("ARK -> ASK: ok")

    for cert, signers in ((cek, [("ASK", ask)]),
                          (oca, [("OCA", oca)]),
                          (pek, [("OCA", oca), ("CEK", cek)]),
                          (pdh, [("PEK", pek)])):
        check_slots(cert, signers)
        for name, _ in signers:
            print(f"{name} -> {cert.name}: ok")
    return pdh, pek


# --- session (section 4) ---------------------------------------------------

def kdf(key, label, context, length):
    """NIST SP 800-108 counter mode with HMAC-SHA256, as the SEV firmware
    does it: the counter i and the length L (in bits) are u32 LITTLE-endian
    (cryptography's KBKDFHMAC writes them big-endian, so it cannot be used).
    out_i = HMAC(key, u32le(i) || label || 0x00 || context || u32le(8n))"""
    out = b""
    i = 1
    while len(out) < length:
        out += hmac.new(key, struct.pack("<I", i) + label + b"\x00"
                        + context + struct.pack("<I", 8 * length),
                        hashlib.sha256).digest()
        i += 1
    return out[:length]


def hmac_sha256(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def build_session(z, nonce, wrap_iv, tek, tik, policy):
    """The 0x80-byte LAUNCH_START session buffer (section 4.3).

    z is the KDF key: the 48-byte big-endian ECDH X coordinate in real use
    (the known-answer test passes 16 zero bytes instead)."""
    for what, val in (("NONCE", nonce), ("WRAP_IV", wrap_iv),
                      ("TEK", tek), ("TIK", tik)):
        if len(val) != 16:
            raise Fail(f"session: {what} must be 16 bytes")
    master = kdf(z, b"sev-master-secret", nonce, 16)
    kek = kdf(master, b"sev-kek", b"", 16)
    kik = kdf(master, b"sev-kik", b"", 16)
    # AES-128-CTR: the whole IV is the initial counter block.
    enc = Cipher(algorithms.AES(kek), modes.CTR(wrap_iv)).encryptor()
    wrap_tk = enc.update(tek + tik) + enc.finalize()
    wrap_mac = hmac_sha256(kik, wrap_tk)
    policy_mac = hmac_sha256(tik, struct.pack("<I", policy))
    session = nonce + wrap_tk + wrap_iv + wrap_mac + policy_mac
    assert len(session) == SESSION_LEN
    return session


def ecdh_z(private_key, peer_public_key):
    """Z = X(d * Q), 48 bytes big-endian, zero-padded."""
    z = private_key.exchange(ec.ECDH(), peer_public_key)
    if len(z) != 48:    # OpenSSL pads to the field size; make sure
        raise Fail(f"ECDH: shared secret is {len(z)} bytes, expected 48")
    return z


def launch_measure(tik, api_major, api_minor, build, policy, digest, mnonce):
    """The MAC LAUNCH_MEASURE returns, as the owner recomputes it:
    HMAC-SHA256(TIK, 0x04 || API_MAJOR || API_MINOR || BUILD ||
    u32le(POLICY) || LAUNCH_DIGEST || MNONCE)."""
    msg = (bytes([0x04, api_major, api_minor, build])
           + struct.pack("<I", policy) + digest + mnonce)
    return hmac_sha256(tik, msg)


# --- input helpers ---------------------------------------------------------

def b64decode(text, what):
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (ValueError, TypeError):
        raise Fail(f"{what}: not valid base64")


def read_file(path, what):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as exc:
        raise Fail(f"{what}: cannot read {path}: {exc.strerror}")


def read_blob(path, raw_len, what):
    """A file holding either base64 text (as QMP returns it) or the raw
    bytes; the two cannot be confused since the lengths differ."""
    data = read_file(path, what)
    if len(data) == raw_len:
        return data
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise Fail(f"{what}: {path} is neither {raw_len} raw bytes "
                   "nor base64 text")
    out = b64decode(text, f"{what} ({path})")
    if len(out) != raw_len:
        raise Fail(f"{what}: {path} decodes to {len(out)} bytes, "
                   f"expected {raw_len}")
    return out


def parse_u32(text, what):
    """Decimal or 0x hex, full 32 bits."""
    t = text.strip()
    hexdigits = "0123456789abcdefABCDEF"
    # Checked by hand: int() would also take "1_0", "+1" and non-ASCII
    # digits.
    digits = t[2:]
    if t[:2] in ("0x", "0X") and digits and all(c in hexdigits
                                                for c in digits):
        val = int(digits, 16)
    elif t and all(c in "0123456789" for c in t):
        val = int(t, 10)
    else:
        raise Fail(f"{what}: '{text}' is not a decimal or 0x hex number")
    if not 0 <= val <= 0xFFFFFFFF:
        raise Fail(f"{what}: 0x{val:x} does not fit in 32 bits")
    return val


def load_platform(args, need_chain):
    """PDH (and PEK||OCA||CEK if need_chain) from --caps or --pdh/
    --cert-chain; --cek replaces the CEK."""
    if args.caps and args.pdh:
        raise Fail("give --caps or --pdh, not both")
    chain = None
    if args.caps:
        try:
            caps = json.loads(read_file(args.caps, "caps"))
        except ValueError:
            raise Fail(f"caps: {args.caps} is not JSON")
        if isinstance(caps, dict) and isinstance(caps.get("return"), dict):
            caps = caps["return"]   # a whole QMP reply is fine too
        if not isinstance(caps, dict) or not isinstance(caps.get("pdh"),
                                                         str):
            raise Fail("caps: no 'pdh' string (expected the 'return' of "
                       "query-sev-capabilities)")
        pdh = b64decode(caps["pdh"], "caps pdh")
        if need_chain:
            if not isinstance(caps.get("cert-chain"), str):
                raise Fail("caps: no 'cert-chain' string")
            chain = b64decode(caps["cert-chain"], "caps cert-chain")
    elif args.pdh:
        pdh = read_blob(args.pdh, SEV_CERT_LEN, "pdh")
        if need_chain:
            if not args.cert_chain:
                raise Fail("--pdh needs --cert-chain to verify the chain")
            chain = read_blob(args.cert_chain, 3 * SEV_CERT_LEN,
                              "cert-chain")
    else:
        raise Fail("give --caps CAPS.json or --pdh FILE")
    if need_chain and args.cek:
        if len(chain) != 3 * SEV_CERT_LEN:
            raise Fail(f"cert-chain: is {len(chain)} bytes, expected "
                       f"{3 * SEV_CERT_LEN} (PEK||OCA||CEK)")
        chain = (chain[:2 * SEV_CERT_LEN]
                 + read_blob(args.cek, SEV_CERT_LEN, "cek"))
    return pdh, chain


def write_file(path, data, secret=False):
    mode = 0o600 if secret else 0o644
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as f:
            if secret:
                os.fchmod(f.fileno(), mode)     # if it existed already
            f.write(data)
    except OSError as exc:
        raise Fail(f"cannot write {path}: {exc.strerror}")


# --- subcommands -----------------------------------------------------------

def cmd_verify_chain(args):
    pdh, chain = load_platform(args, need_chain=True)
    verify_chain(pdh, chain, read_file(args.ca, "ca"))
    print("chain: ok")


def cmd_session(args):
    policy = parse_u32(args.policy, "policy")
    if args.verify_chain_ca:
        pdh_raw, chain = load_platform(args, need_chain=True)
        pdh, _ = verify_chain(pdh_raw, chain,
                              read_file(args.verify_chain_ca, "ca"))
        print("chain: ok")
    else:
        pdh_raw, _ = load_platform(args, need_chain=False)
        pdh = SevCert(pdh_raw, "PDH")
        expect(pdh, USAGE_PDH, (ALGO_ECDH_SHA256,))

    godh_key = ec.generate_private_key(ec.SECP384R1())
    z = ecdh_z(godh_key, pdh.public_key)
    nonce, wrap_iv, tek, tik = (secrets.token_bytes(16) for _ in range(4))
    session = build_session(z, nonce, wrap_iv, tek, tik, policy)
    godh = build_godh_cert(godh_key.public_key())

    try:
        os.makedirs(args.out, exist_ok=True)
    except OSError as exc:
        raise Fail(f"cannot create {args.out}: {exc.strerror}")
    out = args.out
    write_file(os.path.join(out, "godh.b64"), base64.b64encode(godh))
    write_file(os.path.join(out, "session.b64"), base64.b64encode(session))
    write_file(os.path.join(out, "godh.cert"), godh)
    write_file(os.path.join(out, "session.bin"), session)
    write_file(os.path.join(out, "tek.bin"), tek, secret=True)
    write_file(os.path.join(out, "tik.bin"), tik, secret=True)
    write_file(os.path.join(out, "tk.bin"), tek + tik, secret=True)
    print(f"session: policy 0x{policy:08x}; wrote godh.b64 session.b64 "
          f"godh.cert session.bin tek.bin tik.bin tk.bin in {out}")


def load_mnonce(arg):
    """A file holding the base64 mnonce (or its 16 raw bytes); failing
    that, the argument itself as base64."""
    if os.path.exists(arg):
        return read_blob(arg, 16, "mnonce")
    mnonce = b64decode(arg, "mnonce (not a file)")
    if len(mnonce) != 16:
        raise Fail(f"mnonce: decodes to {len(mnonce)} bytes, expected 16")
    return mnonce


def cmd_verify_report(args):
    pdh, chain = load_platform(args, need_chain=True)
    report = read_blob(args.report, REPORT_LEN, "report")
    mnonce = load_mnonce(args.mnonce)
    want_digest = None
    if args.digest is not None:
        try:
            want_digest = bytes.fromhex(args.digest)
        except ValueError:
            raise Fail("digest: not hex")
        if len(want_digest) != 32:
            raise Fail(f"digest: {len(want_digest)} bytes, expected 32")
    want_policy = None
    if args.policy is not None:
        want_policy = parse_u32(args.policy, "policy")

    _, pek = verify_chain(pdh, chain, read_file(args.ca, "ca"))
    print("chain: ok")

    # Signed: MNONCE || LAUNCH_DIGEST || POLICY, ECDSA P-384 over SHA-256
    # with the PEK. SIG_USAGE/SIG_ALGO and the reserved word are not
    # signed and their hardware values are unconfirmed, so not checked.
    ecdsa_verify(pek.public_key, hashes.SHA256(),
                 report[0x40:0x40 + ECC_COORD_LEN],
                 report[0x88:0x88 + ECC_COORD_LEN],
                 report[:REPORT_SIGNED_LEN], "PEK -> report")
    print("PEK -> report: ok")

    digest = report[0x10:0x30]
    policy = u32(report, 0x30)
    if not hmac.compare_digest(report[0x00:0x10], mnonce):
        raise Fail(f"report: MNONCE {report[:0x10].hex()} is not the "
                   f"one sent ({mnonce.hex()})")
    print("mnonce: ok")
    if want_digest is not None:
        if digest != want_digest:
            raise Fail(f"report: launch digest {digest.hex()} != expected "
                       f"{want_digest.hex()}")
        print("digest: ok")
    if want_policy is not None:
        if policy != want_policy:
            raise Fail(f"report: policy 0x{policy:08x} != expected "
                       f"0x{want_policy:08x}")
        print("policy: ok")
    print(f"launch digest: {digest.hex()}")
    print(f"policy: 0x{policy:08x}")


def selftest_check(name, got, want_hex):
    if got.hex() != want_hex:
        raise Fail(f"selftest: {name}: got {got.hex()}, expected {want_hex}")
    print(f"selftest: {name}: ok")


def cmd_selftest(args):
    zero16 = bytes(16)
    # Vectors from notes/psp-research.md section 4.6.
    selftest_check("KDF", kdf(zero16, b"sev-master-secret", zero16, 16),
                   "ab4d269fcc62bedb4511d56c386ce706")

    session = build_session(zero16, zero16, zero16, zero16, zero16, 0)
    selftest_check("session NONCE", session[0x00:0x10], zero16.hex())
    selftest_check("session WRAP_TK", session[0x10:0x30],
                   "2137bc7f9bb8bd7c3e55a576a15d3454"
                   "b3856b8ba27afadf46dcfee9f02c02c4")
    selftest_check("session WRAP_IV", session[0x30:0x40], zero16.hex())
    selftest_check("session WRAP_MAC", session[0x40:0x60],
                   "3176c0752738bd9d5e86689534020f52"
                   "8c088f16238826b000b327dee6aeed7d")
    selftest_check("session POLICY_MAC", session[0x60:0x80],
                   "aa7855e13839dd767cd5da7c1ff50365"
                   "40c9264b7a803029315e55375287b4af")

    # The zero vector cannot catch a wrong byte order of IV, NONCE or
    # POLICY, nor of Z. This one came from AMD's sev-tool
    # (--generate_launch_blob 39) for a throwaway test PDH: the PDH's
    # private scalar, sev-tool's GODH point, TEK||TIK and the session it
    # wrote. Z goes through ecdh_z as in cmd_session.
    pdh_key = ec.derive_private_key(int(
        "90c88c7b4d96385b544f65df077ea9c483e7453182e529bc"
        "f0cde817caa2b8ac03375c2911d1b26e17bb07749d79599a", 16),
        ec.SECP384R1())
    godh_pub = ec.EllipticCurvePublicNumbers(
        int("46b63e7c55f5c5045290bd3b19f18e70a7c1b88fc9f44f21"
            "a6eb4fc6ecd442b7a4eff292cfd67d026feab7187f5b1cfe", 16),
        int("dd8b5d4ca7243ec0310245e41d97b95519704df0bbfa6647"
            "89c46b7afeb5c7660823dafc42ca2c4505bc172da847cc72", 16),
        ec.SECP384R1()).public_key()
    tk = bytes.fromhex("ff32dce2e8712b5be8f6657cb810e32a"
                       "131783389594f03053218754b90449d9")
    want = ("579323668cf5c281f88da72c891ba488"
            "5a5b2b1d0aca6744662fdd6975dbdee234930d20c31a32341c52dffb9a599ff1"
            "f61ce2fe45d795d11a25e9eea54ab9c2"
            "39394645bc8069e0cda6020254215056c063bd8760691b71952e129258b302b1"
            "cf31c0639d6c3a423b561263602dd8f9101ec85b60a1cfed8375509ae89b7931")
    w = bytes.fromhex(want)
    selftest_check("sev-tool session", build_session(
        ecdh_z(pdh_key, godh_pub), w[0x00:0x10], w[0x30:0x40],
        tk[:16], tk[16:], 0x39), want)

    selftest_check("LAUNCH_MEASURE", launch_measure(
        bytes.fromhex("66320db73158a35a255d051758e95ed4"), 0, 18, 0x0f, 0,
        hashlib.sha256(b"").digest(),
        bytes.fromhex("4fbe0bedbad6c86ae8f68971d103e554")),
        "6faab2daae389bcd3405a05d6cafe33c0414f7bedd0bae19ba5f38b7fd1664ea")

    # GODH round trip: build, parse back, compare.
    key = ec.generate_private_key(ec.SECP384R1())
    godh = SevCert(build_godh_cert(key.public_key()), "GODH")
    nums = key.public_key().public_numbers()
    if (godh.usage, godh.algo, godh.curve, godh.api_major,
            godh.api_minor) != (USAGE_PDH, ALGO_ECDH_SHA256, CURVE_P384,
                                0, 0):
        raise Fail("selftest: GODH: header fields do not round-trip")
    if (godh.x, godh.y) != (nums.x, nums.y):
        raise Fail("selftest: GODH: public key does not round-trip")
    if any(s != (USAGE_INVALID, ALGO_INVALID, bytes(SEV_SIG_LEN))
           for s in godh.slots):
        raise Fail("selftest: GODH: signature slots are not empty")
    # The ECDH of two fresh keys agrees both ways and is 48 bytes.
    other = ec.generate_private_key(ec.SECP384R1())
    if ecdh_z(key, other.public_key()) != ecdh_z(other, godh.public_key):
        raise Fail("selftest: ECDH: the two sides disagree")
    print("selftest: GODH round trip: ok")
    print("selftest: ok")


# --- command line ----------------------------------------------------------

class Parser(argparse.ArgumentParser):
    """Usage errors are bad input: one 'sev-owner:' line, exit 1."""

    def error(self, message):
        sys.stderr.write(f"sev-owner: {message}\n")
        sys.exit(1)


def add_platform_args(p, chain):
    p.add_argument("--caps", metavar="CAPS.json",
                   help="the 'return' object of QMP query-sev-capabilities")
    p.add_argument("--pdh", metavar="FILE",
                   help="the PDH, base64 text (or raw), instead of --caps")
    if chain:
        p.add_argument("--cert-chain", metavar="FILE",
                       help="PEK||OCA||CEK, base64 text (or raw), with "
                       "--pdh")
        p.add_argument("--cek", metavar="FILE",
                       help="replace the chain's CEK with this one (the "
                       "ASK-signed CEK from AMD's KDS; hardware exports an "
                       "unsigned CEK)")


def main():
    ap = Parser(description="The guest owner's side of the SEV/SEV-ES "
                "launch: certificate chain, GODH and session, attestation "
                "report.")
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=Parser)

    p = sub.add_parser("verify-chain", help="verify ARK..PDH")
    add_platform_args(p, chain=True)
    p.add_argument("--ca", required=True, metavar="ASK_ARK.cert",
                   help="ASK||ARK, as AMD's ask_ark_<gen>.cert")
    p.set_defaults(func=cmd_verify_chain)

    p = sub.add_parser("session", help="make GODH and session for a PDH")
    add_platform_args(p, chain=True)
    p.add_argument("--policy", required=True,
                   help="guest policy, decimal or 0x hex (32 bits)")
    p.add_argument("--out", required=True, metavar="DIR")
    p.add_argument("--verify-chain-ca", metavar="ASK_ARK.cert",
                   help="verify the chain first; no session on failure")
    p.set_defaults(func=cmd_session)

    p = sub.add_parser("verify-report",
                       help="verify a legacy SEV attestation report")
    add_platform_args(p, chain=True)
    p.add_argument("--ca", required=True, metavar="ASK_ARK.cert")
    p.add_argument("--report", required=True, metavar="REPORT.b64",
                   help="the 'data' of query-sev-attestation-report")
    p.add_argument("--mnonce", required=True, metavar="MNONCE.b64",
                   help="file with the base64 mnonce sent")
    p.add_argument("--digest", metavar="HEX",
                   help="expected launch digest (64 hex digits)")
    p.add_argument("--policy", help="expected policy")
    p.set_defaults(func=cmd_verify_report)

    p = sub.add_parser("selftest", help="known-answer tests")
    p.set_defaults(func=cmd_selftest)

    args = ap.parse_args()
    try:
        args.func(args)
    except Fail as exc:
        sys.stdout.flush()
        sys.stderr.write(f"sev-owner: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
