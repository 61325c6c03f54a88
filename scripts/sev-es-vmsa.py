#!/usr/bin/env python3
"""Build the initial VMSAs of an SEV-ES guest, as KVM measures them for
QEMU, without QEMU's code: for the guest owner, whose tools
(virt-qemu-sev-validate --vmsa-cpu0/--vmsa-cpu1) need them to compute the
launch digest.

usage: sev-es-vmsa.py --firmware OVMF.fd --family F --model M --stepping S
                      [--legacy] [--out-dir DIR]
  writes DIR/vmsa0.bin (the boot CPU) and DIR/vmsa1.bin (every other
  CPU: they all start at the AP reset address of the firmware's SEV-ES
  reset block), 4096 bytes each.

The values are those of a vCPU after QEMU's reset, as KVM syncs them into
the VMSA at LAUNCH_UPDATE_VMSA (Linux arch/x86/kvm/svm/sev.c,
sev_es_sync_vmsa()); see notes/sev-es-research.md, section 5. Which KVM
interface made the VM decides one detail:

- KVM_SEV_INIT2 (sev-emulated with legacy-vm-type=off; what this script
  builds by default): KVM also syncs the FPU's reset state, so the VMSAs
  hold MXCSR 0x1f80 and the x87 control word 0x37f, the APs' too with
  QEMU's 11.0 machine types (10.2 and older leave the APs' zero, which
  this script does not model). VirTEE's sev-snp-measure --mode seves
  builds the same VMSAs.
- KVM_SEV_ES_INIT (sev-emulated with legacy-vm-type=on or auto, its
  default; --legacy here): the FPU control state stays zero in every
  VMSA. virt-qemu-sev-validate's built-in template
  (--cpu-family/--cpu-model/--cpu-stepping) builds the same VMSAs.
"""
import argparse
import importlib.util
import os
import struct
import sys
import uuid

VMSA_SIZE = 4096
# OVMF's footer table entry whose data is the APs' u32 reset address
SEV_ES_RESET_BLOCK_GUID = uuid.UUID("00f771de-1a7e-4fcb-890e-68c77e2fb44e")
# The boot CPU starts at the architectural reset vector
BSP_RESET_ADDR = 0xfffffff0

# Segment register offsets in the VMSA; each is selector (u16), attributes
# (u16, the VMCB's packed form of the descriptor's type/S/DPL/P and
# AVL/L/DB/G bits), limit (u32), base (u64).
ES, CS, SS, DS, FS, GS, GDTR, LDTR, IDTR, TR = range(0x00, 0xa0, 0x10)
EFER = 0xd0
CR4 = 0x148
CR0 = 0x158
DR7 = 0x160
DR6 = 0x168
RFLAGS = 0x170
RIP = 0x178
G_PAT = 0x268
RDX = 0x310
XCR0 = 0x3e8
MXCSR = 0x408
X87_FCW = 0x410

# Attributes: present, S=1, accessed; data read/write, or code
# execute/read, as QEMU's reset state has them
DATA_ATTR = 0x93
CODE_ATTR = 0x9b
LDT_ATTR = 0x82         # present, system type 2 (LDT)
TSS_ATTR = 0x8b         # present, system type 11 (busy 32-bit TSS)


def ovmf_table():
    """scripts/ovmf-table.py, whose footer-table walk we reuse"""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ovmf-table.py")
    spec = importlib.util.spec_from_file_location("ovmf_table", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ap_reset_addr(firmware):
    with open(firmware, "rb") as f:
        image = f.read()
    for guid, data in ovmf_table().entries(image):
        if guid == SEV_ES_RESET_BLOCK_GUID:
            addr = struct.unpack_from("<I", data)[0]
            if addr == 0:
                raise ValueError("%s: the SEV-ES reset address is 0" % firmware)
            return addr
    raise ValueError("%s: no SEV-ES reset block (not an SEV-ES capable OVMF)" % firmware)


def cpuid_signature(family, model, stepping):
    """CPUID(1).EAX: what the vCPU has in EDX at reset"""
    base_family = min(family, 0xf)
    ext_family = family - 0xf if family > 0xf else 0
    return ((ext_family << 20) | ((model >> 4) << 16) | (base_family << 8) |
            ((model & 0xf) << 4) | stepping)


def segment(vmsa, offset, selector, attrib, limit, base):
    struct.pack_into("<HHIQ", vmsa, offset, selector, attrib, limit, base)


def build_vmsa(reset_addr, signature, fpu_control=True):
    vmsa = bytearray(VMSA_SIZE)
    # Real mode, CS:IP at the reset address: the selector stays 0xf000 as
    # at reset, the base and IP split the address
    segment(vmsa, CS, 0xf000, CODE_ATTR, 0xffff, reset_addr & 0xffff0000)
    struct.pack_into("<Q", vmsa, RIP, reset_addr & 0xffff)
    for seg in (ES, SS, DS, FS, GS):
        segment(vmsa, seg, 0, DATA_ATTR, 0xffff, 0)
    segment(vmsa, GDTR, 0, 0, 0xffff, 0)
    segment(vmsa, IDTR, 0, 0, 0xffff, 0)
    segment(vmsa, LDTR, 0, LDT_ATTR, 0xffff, 0)
    segment(vmsa, TR, 0, TSS_ATTR, 0xffff, 0)
    # EFER.SVME, which KVM sets for every SVM guest
    struct.pack_into("<Q", vmsa, EFER, 1 << 12)
    # CR4.MCE (KVM takes it from the host, which has it)
    struct.pack_into("<Q", vmsa, CR4, 1 << 6)
    # CR0.ET: the reset value 0x60000010 without CD and NW, which KVM
    # clears for SVM guests
    struct.pack_into("<Q", vmsa, CR0, 0x10)
    struct.pack_into("<Q", vmsa, DR7, 0x400)
    struct.pack_into("<Q", vmsa, DR6, 0xffff0ff0)
    struct.pack_into("<Q", vmsa, RFLAGS, 0x2)
    struct.pack_into("<Q", vmsa, G_PAT, 0x0007040600070406)
    struct.pack_into("<Q", vmsa, RDX, signature)
    struct.pack_into("<Q", vmsa, XCR0, 1)
    # The FPU's reset state, which only KVM_SEV_INIT2 VMs sync
    if fpu_control:
        struct.pack_into("<I", vmsa, MXCSR, 0x1f80)
        struct.pack_into("<H", vmsa, X87_FCW, 0x37f)
    return bytes(vmsa)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--firmware", required=True,
                        help="the OVMF image (for the AP reset address)")
    parser.add_argument("--family", type=int, required=True)
    parser.add_argument("--model", type=int, required=True)
    parser.add_argument("--stepping", type=int, required=True)
    parser.add_argument("--legacy", action="store_true",
                        help="the VMSAs of a KVM_SEV_ES_INIT VM "
                        "(legacy-vm-type=on or auto): no FPU control state")
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args(argv[1:])
    try:
        ap_addr = ap_reset_addr(args.firmware)
    except (OSError, ValueError) as e:
        sys.exit("sev-es-vmsa.py: %s" % e)
    signature = cpuid_signature(args.family, args.model, args.stepping)
    for name, addr in (("vmsa0.bin", BSP_RESET_ADDR), ("vmsa1.bin", ap_addr)):
        with open(os.path.join(args.out_dir, name), "wb") as f:
            f.write(build_vmsa(addr, signature, not args.legacy))
    print("AP reset address 0x%x, CPUID signature 0x%x" % (ap_addr, signature))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
