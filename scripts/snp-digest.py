#!/usr/bin/env python3
"""Compute the SEV-SNP launch digest of a QEMU + KVM guest, without QEMU's
code: what the guest owner expects the attestation report's MEASUREMENT
to be.

usage: snp-digest.py --firmware OVMF.fd --vcpus N --family F --model M
                     --stepping S [--kernel K [--initrd I] [--append C]]
                     [--guest-features 0x1]
       snp-digest.py --check DIGESTS.txt --firmware OVMF.fd [--kernel K]
  prints the digest (SHA-384, hex); --check recomputes each line of
  tests/data/snp-digest/digests.txt (CPU model, vCPUs, kernel or -,
  digest) and fails on the first difference.

The firmware measures each page it is given with SNP_LAUNCH_UPDATE by
hashing a PAGE_INFO structure (SEV-SNP firmware ABI, "PAGE_INFO"): the
digest so far, the page's contents hash (SHA-384 of the page for normal
and VMSA pages, zero for the others), the structure's length 0x70, the
page type, IMI_PAGE 0, the VMPL permissions 0, and the page's GPA. The
digest starts as 48 zero bytes. QEMU gives the firmware:

1. the firmware image, mapped below 4 GiB, page by page (normal pages);
2. the sections of OVMF's SEV metadata, in their order: SNP_SEC_MEM and
   SVSM_CAA as zero pages, SNP_SECRETS as the secrets page, CPUID as the
   CPUID page, SNP_KERNEL_HASHES as a normal page holding the kernel
   hashes table with kernel-hashes=on and a kernel, else a zero page;
3. KVM then measures one VMSA per vCPU at the GPA 0xfffffffff000 the SNP
   firmware ABI assigns to VMSAs of the launch, each the vCPU's reset
   state as scripts/sev-es-vmsa.py builds it for KVM_SEV_INIT2 (which
   SNP VMs are), with SEV_FEATURES (VMSA offset 0x3b0) the guest
   features, bit 0 SNPActive.
"""
import argparse
import hashlib
import importlib.util
import os
import struct
import sys
import uuid

PAGE = 4096
PAGE_INFO_LEN = 0x70
# SNP_LAUNCH_UPDATE page types (SEV-SNP firmware ABI)
PAGE_TYPE_NORMAL = 1
PAGE_TYPE_VMSA = 2
PAGE_TYPE_ZERO = 3
PAGE_TYPE_SECRETS = 5
PAGE_TYPE_CPUID = 6
VMSA_GPA = 0xfffffffff000
VMSA_SEV_FEATURES = 0x3b0

# OVMF's SEV metadata: its footer entry holds the offset of the "ASEV"
# header from the end of the image; sections follow the 16-byte header
SEV_METADATA_GUID = uuid.UUID("dc886566-984a-4798-a75e-5585a7bf67cc")
SECTION_SNP_SEC_MEM = 1
SECTION_SNP_SECRETS = 2
SECTION_CPUID = 3
SECTION_SVSM_CAA = 4
SECTION_SNP_KERNEL_HASHES = 0x10
SECTION_PAGE_TYPE = {
    SECTION_SNP_SEC_MEM: PAGE_TYPE_ZERO,
    SECTION_SNP_SECRETS: PAGE_TYPE_SECRETS,
    SECTION_CPUID: PAGE_TYPE_CPUID,
    SECTION_SVSM_CAA: PAGE_TYPE_ZERO,
}

# The kernel hashes table (docs: sev-launch-attestation.md, section 3)
HASH_AREA_GUID = uuid.UUID("7255371f-3a3b-4b04-927b-1da6efa8d454")
HASH_TABLE_GUID = uuid.UUID("9438d606-4f22-4cc9-b479-a793d411fd21")
HASH_CMDLINE_GUID = uuid.UUID("97d02dd8-bd20-4c94-aa78-e7714d36ab2a")
HASH_INITRD_GUID = uuid.UUID("44baf731-3a2f-4bd7-9af1-41e29169781d")
HASH_KERNEL_GUID = uuid.UUID("4de79437-abd2-427f-b835-d5b172d2045b")

# CPU models of the reference data: CPUID(1) family, model, stepping
CPU_MODELS = {
    "EPYC-Rome": (23, 49, 0),
    "EPYC-Milan": (25, 1, 1),
}


def sibling(name):
    """A module of scripts/ (the footer-table walk, the VMSA builder)"""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    spec = importlib.util.spec_from_file_location(name.replace("-", "_")[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Digest:
    def __init__(self):
        self.value = bytes(48)

    def update(self, gpa, page_type, contents=None):
        page_info = struct.pack("<48s48sHBBBBBBQ", self.value,
                                hashlib.sha384(contents).digest() if contents else bytes(48),
                                PAGE_INFO_LEN, page_type, 0, 0, 0, 0, 0, gpa)
        assert len(page_info) == PAGE_INFO_LEN
        self.value = hashlib.sha384(page_info).digest()


def footer_entry(image, guid):
    for g, data in sibling("ovmf-table.py").entries(image):
        if g == guid:
            return data
    return None


def metadata_sections(image):
    data = footer_entry(image, SEV_METADATA_GUID)
    if data is None:
        raise ValueError("no SEV metadata in the firmware (not an SNP capable OVMF)")
    start = len(image) - struct.unpack_from("<I", data)[0]
    signature, size, version, count = struct.unpack_from("<4sIII", image, start)
    if signature != b"ASEV" or version != 1:
        raise ValueError("bad SEV metadata header")
    return [struct.unpack_from("<III", image, start + 16 + 12 * i) for i in range(count)]


def hashes_table(kernel, initrd, append):
    def entry(guid, data):
        return guid.bytes_le + struct.pack("<H", 50) + hashlib.sha256(data).digest()

    cmdline = (append or "").encode() + b"\0"
    body = (entry(HASH_CMDLINE_GUID, cmdline) + entry(HASH_INITRD_GUID, initrd) +
            entry(HASH_KERNEL_GUID, kernel))
    table = HASH_TABLE_GUID.bytes_le + struct.pack("<H", 18 + len(body)) + body
    return table + bytes(-len(table) % 16)


def launch_digest(firmware, vcpus, signature, guest_features=1,
                  kernel=None, initrd=b"", append=None):
    with open(firmware, "rb") as f:
        image = f.read()
    digest = Digest()
    base = 0x100000000 - len(image)
    for off in range(0, len(image), PAGE):
        digest.update(base + off, PAGE_TYPE_NORMAL, image[off:off + PAGE])

    sections = metadata_sections(image)
    if kernel is not None and SECTION_SNP_KERNEL_HASHES not in [t for _, _, t in sections]:
        raise ValueError("the firmware has no SNP kernel hashes page: it cannot check a kernel")
    for sec_base, sec_size, sec_type in sections:
        if sec_type == SECTION_SNP_KERNEL_HASHES and kernel is not None:
            area = footer_entry(image, HASH_AREA_GUID)
            table_base = struct.unpack_from("<I", area)[0]
            if not sec_base <= table_base <= sec_base + sec_size - 176:
                raise ValueError("the kernel hashes area is not in the kernel hashes page")
            page = bytearray(sec_size)
            table = hashes_table(kernel, initrd, append)
            page[table_base - sec_base:table_base - sec_base + len(table)] = table
            for off in range(0, sec_size, PAGE):
                digest.update(sec_base + off, PAGE_TYPE_NORMAL, bytes(page[off:off + PAGE]))
            continue
        page_type = SECTION_PAGE_TYPE.get(sec_type, PAGE_TYPE_ZERO)
        for off in range(0, sec_size, PAGE):
            digest.update(sec_base + off, page_type)

    vmsa = sibling("sev-es-vmsa.py")
    ap_reset = vmsa.ap_reset_addr(firmware)
    for cpu in range(vcpus):
        page = bytearray(vmsa.build_vmsa(vmsa.BSP_RESET_ADDR if cpu == 0 else ap_reset,
                                         signature))
        struct.pack_into("<Q", page, VMSA_SEV_FEATURES, guest_features)
        digest.update(VMSA_GPA, PAGE_TYPE_VMSA, bytes(page))
    return digest.value.hex()


def read(path):
    with open(path, "rb") as f:
        return f.read()


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firmware", required=True)
    parser.add_argument("--vcpus", type=int, default=1)
    parser.add_argument("--family", type=int)
    parser.add_argument("--model", type=int)
    parser.add_argument("--stepping", type=int)
    parser.add_argument("--kernel")
    parser.add_argument("--initrd")
    parser.add_argument("--append")
    parser.add_argument("--guest-features", type=lambda v: int(v, 0), default=1)
    parser.add_argument("--check", metavar="DIGESTS.txt")
    args = parser.parse_args(argv)
    kernel = read(args.kernel) if args.kernel else None
    initrd = read(args.initrd) if args.initrd else b""

    if args.check:
        checked = 0
        for line in open(args.check):
            if not line.strip() or line.startswith("#"):
                continue
            model, vcpus, with_kernel, expected = line.split()
            sig = sibling("sev-es-vmsa.py").cpuid_signature(*CPU_MODELS[model])
            got = launch_digest(args.firmware, int(vcpus), sig,
                                kernel=kernel if with_kernel != "-" else None,
                                append="console=ttyS0" if with_kernel != "-" else None)
            if got != expected:
                print("%s %s vCPUs kernel %s: %s, expected %s" %
                      (model, vcpus, with_kernel, got, expected))
                return 1
            checked += 1
        print("%d digests equal" % checked)
        return 0

    if None in (args.family, args.model, args.stepping):
        parser.error("--family, --model and --stepping are needed")
    sig = sibling("sev-es-vmsa.py").cpuid_signature(args.family, args.model, args.stepping)
    print(launch_digest(args.firmware, args.vcpus, sig, args.guest_features,
                        kernel, initrd, args.append))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except (OSError, ValueError) as e:
        sys.exit("snp-digest.py: %s" % e)
