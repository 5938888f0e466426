#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the mshare-vmm introspection profile of one kernel build.

Usage: make-profile.py --build-dir DIR --offsets FILE.s --out profile.json

DIR is the kernel build directory (O=): it holds vmlinux, System.map, .config
and include/config/kernel.release. FILE.s is offsets.c compiled to assembly
against that same build. The format is described in
docs/introspection-profile.md.
"""
import argparse
import json
import os
import re
import struct
import sys

FORMAT = "mshare-vmm-profile/1"

REQUIRED_SYMBOLS = ["init_task", "init_top_pgt", "page_offset_base", "vmemmap_base",
                    "phys_base", "linux_banner"]
OPTIONAL_SYMBOLS = ["init_mm", "__start_notes", "__stop_notes", "_text", "_end",
                    "vmalloc_base", "__pgtable_l5_enabled"]
REQUIRED_OFFSETS = ["task_struct.tasks", "task_struct.pid", "task_struct.tgid",
                    "task_struct.comm", "task_struct.mm", "mm_struct.pgd",
                    "mm_struct.pgtables_bytes", "page.size", "ptdesc.pt_share_count"]
CONFIG_KEYS = ["CONFIG_X86_5LEVEL", "CONFIG_PAGE_TABLE_ISOLATION", "CONFIG_RANDOMIZE_BASE",
               "CONFIG_RANDOMIZE_MEMORY", "CONFIG_MSHARE"]

NT_GNU_BUILD_ID = 3
SHT_NOBITS = 8


class ProfileError(Exception):
    pass


def read_system_map(path):
    symbols = {}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    symbols.setdefault(parts[2], int(parts[0], 16))
    except OSError as e:
        raise ProfileError(f"System.map '{path}': {e.strerror}") from e
    return symbols


def read_offsets(path):
    offsets = {}
    pattern = re.compile(r'->(\S+) \$?(-?\d+)')
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                m = pattern.search(line)
                if m:
                    offsets[m.group(1)] = int(m.group(2))
    except OSError as e:
        raise ProfileError(f"offsets '{path}': {e.strerror}") from e
    return offsets


def read_config(path):
    values = {}
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                m = re.match(r'(CONFIG_[A-Za-z0-9_]+)=(.*)', line.strip())
                if m:
                    values[m.group(1)] = m.group(2)
    except OSError as e:
        raise ProfileError(f"kernel config '{path}': {e.strerror}") from e
    # Newer kernels renamed some options; the profile keeps the older names.
    renamed = {"CONFIG_PAGE_TABLE_ISOLATION": "CONFIG_MITIGATION_PAGE_TABLE_ISOLATION"}
    return {key: values.get(key) == "y" or values.get(renamed.get(key, "")) == "y"
            for key in CONFIG_KEYS}


class Elf:
    """Just enough ELF64 little-endian reading for notes and .rodata strings."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            self.data = f.read()
        d = self.data
        if d[:4] != b"\x7fELF" or d[4] != 2 or d[5] != 1:
            raise ProfileError(f"vmlinux '{path}': not a 64-bit little-endian ELF file")
        shoff, = struct.unpack_from("<Q", d, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", d, 0x3a)
        if shoff == 0 or shentsize < 64 or shoff + shnum * shentsize > len(d):
            raise ProfileError(f"vmlinux '{path}': no usable section header table")
        self.sections = []
        for i in range(shnum):
            (name, stype, flags, addr, offset, size, link, info, align,
             entsize) = struct.unpack_from("<IIQQQQIIQQ", d, shoff + i * shentsize)
            self.sections.append((stype, addr, offset, size))

    def build_id(self):
        for stype, _addr, offset, size in self.sections:
            if stype != 7:  # SHT_NOTE
                continue
            pos, end = offset, offset + size
            while pos + 12 <= end:
                namesz, descsz, ntype = struct.unpack_from("<III", self.data, pos)
                name_at = pos + 12
                desc_at = name_at + ((namesz + 3) & ~3)
                if (ntype == NT_GNU_BUILD_ID and
                        self.data[name_at:name_at + namesz].rstrip(b"\0") == b"GNU"):
                    return self.data[desc_at:desc_at + descsz].hex()
                pos = desc_at + ((descsz + 3) & ~3)
        raise ProfileError(f"vmlinux '{self.path}': no NT_GNU_BUILD_ID note")

    def string_at(self, vaddr):
        for stype, addr, offset, size in self.sections:
            if stype != SHT_NOBITS and addr and addr <= vaddr < addr + size:
                start = offset + (vaddr - addr)
                end = self.data.index(b"\0", start, offset + size)
                return self.data[start:end].decode("utf-8", errors="replace")
        raise ProfileError(f"vmlinux '{self.path}': no section holds address {vaddr:#x}")


def make_profile(build_dir, offsets_path):
    vmlinux = os.path.join(build_dir, "vmlinux")
    symbols_all = read_system_map(os.path.join(build_dir, "System.map"))
    missing = [s for s in REQUIRED_SYMBOLS if s not in symbols_all]
    if missing:
        raise ProfileError(f"System.map in '{build_dir}': missing symbol(s) {', '.join(missing)}")
    offsets = read_offsets(offsets_path)
    missing = [o for o in REQUIRED_OFFSETS if o not in offsets]
    if missing:
        raise ProfileError(f"offsets '{offsets_path}': missing {', '.join(missing)} "
                           "(compiled against a kernel without these fields?)")
    elf = Elf(vmlinux)
    try:
        with open(os.path.join(build_dir, "include/config/kernel.release"), encoding="ascii") as f:
            release = f.read().strip()
    except OSError as e:
        raise ProfileError(f"build '{build_dir}': cannot read kernel.release: {e.strerror}") from e
    symbols = {}
    for name in REQUIRED_SYMBOLS + OPTIONAL_SYMBOLS:
        if name in symbols_all:
            symbols[name] = f"{symbols_all[name]:#x}"
    return {
        "format": FORMAT,
        "kernel_release": release,
        "build_id": elf.build_id(),
        "banner": elf.string_at(symbols_all["linux_banner"]),
        "symbols": symbols,
        "offsets": {name: offsets[name] for name in REQUIRED_OFFSETS},
        "config": read_config(os.path.join(build_dir, ".config")),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--offsets", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    try:
        profile = make_profile(args.build_dir, args.offsets)
    except ProfileError as e:
        print(f"make-profile: {e}", file=sys.stderr)
        return 1
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(profile, f, indent=2)
        f.write("\n")
    os.replace(tmp, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
