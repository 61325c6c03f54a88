#!/usr/bin/env python3
"""The guest owner's SEV-SNP ID block and ID authentication information.

Given the launch digest a guest must have and its policy, prints the ID
block (96 bytes) and the ID authentication information structure (4096
bytes), base64-encoded on one line each, as sev-snp-guest's id-block and
id-auth properties take them. The ID block is signed with an ID key and,
with --author-key, the ID key with an author key: ECDSA P-384 with
SHA-384, in the SNP firmware ABI's formats. Keys are PEM files, or made
afresh for this run when not given.

--tamper breaks one thing on purpose, for tests: id-sig or author-sig
(one bit of a signature), algo (an ID key algorithm the ABI does not
define), curve (an ID key on another curve), version (ID block version
2), short (an id-auth cut after the ID key: no author key; the firmware
reads the rest as zeros).
"""

import argparse
import base64
import struct
import sys

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

ALGO_ECDSA_P384_SHA384 = 1
CURVE_P384 = 2
FIELD = 72          # a P-384 number, little-endian, in a 72-byte field
KEY_SIZE = 0x404    # CURVE, QX, QY, reserved
SIG_SIZE = 0x200    # R, S, reserved
AUTH_SIZE = 0x1000
# offsets in the ID authentication information structure
ID_KEY_ALGO, AUTH_KEY_ALGO = 0x000, 0x004
ID_BLOCK_SIG, ID_KEY, ID_KEY_SIG, AUTHOR_KEY = 0x040, 0x240, 0x680, 0x880


def le_field(n):
    return n.to_bytes(FIELD, "little")


def public_key(key, curve=CURVE_P384):
    numbers = key.public_key().public_numbers()
    blob = struct.pack("<I", curve) + le_field(numbers.x) + le_field(numbers.y)
    return blob.ljust(KEY_SIZE, b"\0")


def sign(key, data):
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA384())))
    return (le_field(r) + le_field(s)).ljust(SIG_SIZE, b"\0")


def load_or_make(path):
    if path is None:
        return ec.generate_private_key(ec.SECP384R1())
    with open(path, "rb") as f:
        return serialization.load_pem_private_key(f.read(), password=None)


def flip_bit(blob, offset):
    return blob[:offset] + bytes([blob[offset] ^ 1]) + blob[offset + 1:]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--digest", required=True,
                        help="the launch digest the guest must have (hex)")
    parser.add_argument("--policy", required=True, type=lambda v: int(v, 0),
                        help="the guest policy")
    parser.add_argument("--id-key", help="the ID key (PEM); default: a new one")
    parser.add_argument("--author-key", nargs="?", const="",
                        help="sign the ID key with this author key (PEM; "
                             "a new one when no file is given)")
    parser.add_argument("--family-id", default="00" * 16, help="16 bytes, hex")
    parser.add_argument("--image-id", default="00" * 16, help="16 bytes, hex")
    parser.add_argument("--guest-svn", default=0, type=int)
    parser.add_argument("--tamper", choices=["id-sig", "author-sig", "algo",
                                             "curve", "version", "short"])
    args = parser.parse_args()

    digest = bytes.fromhex(args.digest)
    family, image = bytes.fromhex(args.family_id), bytes.fromhex(args.image_id)
    if len(digest) != 48 or len(family) != 16 or len(image) != 16:
        sys.exit("snp-id-block: the digest has 48 bytes, the IDs 16")
    version = 2 if args.tamper == "version" else 1
    id_block = digest + family + image + struct.pack(
        "<IIQ", version, args.guest_svn, args.policy)

    id_key = load_or_make(args.id_key)
    auth = bytearray(AUTH_SIZE)
    algo = 0xff if args.tamper == "algo" else ALGO_ECDSA_P384_SHA384
    struct.pack_into("<I", auth, ID_KEY_ALGO, algo)
    id_key_blob = public_key(id_key, 3 if args.tamper == "curve" else CURVE_P384)
    id_sig = sign(id_key, id_block)
    if args.tamper == "id-sig":
        id_sig = flip_bit(id_sig, 0)
    auth[ID_BLOCK_SIG:ID_BLOCK_SIG + SIG_SIZE] = id_sig
    auth[ID_KEY:ID_KEY + KEY_SIZE] = id_key_blob
    if args.author_key is not None:
        author = load_or_make(args.author_key or None)
        key_sig = sign(author, id_key_blob)
        if args.tamper == "author-sig":
            key_sig = flip_bit(key_sig, 0)
        struct.pack_into("<I", auth, AUTH_KEY_ALGO, ALGO_ECDSA_P384_SHA384)
        auth[ID_KEY_SIG:ID_KEY_SIG + SIG_SIZE] = key_sig
        auth[AUTHOR_KEY:AUTHOR_KEY + KEY_SIZE] = public_key(author)
    if args.tamper == "short":
        auth = auth[:ID_KEY_SIG]

    print(base64.b64encode(id_block).decode())
    print(base64.b64encode(bytes(auth)).decode())


if __name__ == "__main__":
    main()
