// Small kernel images made in memory, so loader tests always have inputs:
// a bzImage with a chosen setup header, and ELF executables.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <mvmm/loader/byte_io.hpp>
#include <mvmm/loader/elf_writer.hpp>
#include <mvmm/loader/zero_page.hpp>

namespace mvmm::test {

struct BzImageSpec {
    std::uint16_t version = 0x020f;
    std::uint8_t setup_sects = 4;
    std::uint32_t payload_size = 0x4000;
    std::uint8_t loadflags = zero_page::kLoadedHigh;
    std::uint16_t xloadflags = zero_page::kXlfKernel64;
    std::uint64_t pref_address = 0x1000000;
    std::uint32_t init_size = 0x200000;
    std::uint32_t kernel_alignment = 0x200000;
    std::uint8_t relocatable = 1;
    std::uint32_t initrd_addr_max = 0x7fffffff;
    std::uint32_t cmdline_size = 2047;
    std::uint8_t header_end_jump = 0x6a;  // the header ends at 0x202 + 0x6a = 0x26c
};

// A bzImage whose setup code is zeros apart from the header and whose
// protected-mode part is `payload_size` bytes of the pattern i * 7 + 1.
inline std::vector<std::byte> make_bzimage(const BzImageSpec& spec = {}) {
    namespace zp = zero_page;
    const std::size_t setup = (spec.setup_sects + 1U) * 512U;
    std::vector<std::byte> image(setup + spec.payload_size);
    ByteWriter w(image);
    w.u8(zp::kSetupSects, spec.setup_sects);
    w.u32(zp::kSysSize, (spec.payload_size + 15) / 16);
    w.u16(zp::kBootFlag, zp::kBootFlagMagic);
    w.u8(zp::kJump, 0xeb);
    w.u8(zp::kJump + 1, spec.header_end_jump);
    w.u32(zp::kHeader, zp::kHeaderMagic);
    w.u16(zp::kVersion, spec.version);
    w.u8(zp::kLoadFlags, spec.loadflags);
    w.u32(zp::kCode32Start, 0x100000);
    w.u32(zp::kInitrdAddrMax, spec.initrd_addr_max);
    w.u32(zp::kKernelAlignment, spec.kernel_alignment);
    w.u8(zp::kRelocatableKernel, spec.relocatable);
    w.u8(zp::kMinAlignment, 21);
    w.u16(zp::kXLoadFlags, spec.xloadflags);
    w.u32(zp::kCmdlineSize, spec.cmdline_size);
    w.u64(zp::kPrefAddress, spec.pref_address);
    w.u32(zp::kInitSize, spec.init_size);
    for (std::size_t i = 0; i < spec.payload_size; ++i) {
        image[setup + i] = static_cast<std::byte>(i * 7 + 1);
    }
    return image;
}

// An ELF with one 4 KiB code segment at 2 MiB (the pattern i * 3 + 5) and a
// 64 KiB bss after it; the entry is 2 MiB + 0x10.
inline std::vector<std::byte> make_small_elf() {
    ElfSegment text;
    text.gpa = 0x200000;
    text.bytes.resize(4096);
    for (std::size_t i = 0; i < text.bytes.size(); ++i) {
        text.bytes[i] = static_cast<std::byte>(i * 3 + 5);
    }
    ElfSegment bss;
    bss.gpa = 0x201000;
    bss.mem_size = 0x10000;
    const std::vector<ElfSegment> segments = {text, bss};
    return make_elf_executable(segments, 0x200010);
}

// "offset: xx xx xx ..." lines for each run of non-zero bytes, for pinning
// whole structures byte for byte in a readable way.
inline std::string nonzero_dump(const std::vector<std::byte>& bytes) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    std::size_t i = 0;
    while (i < bytes.size()) {
        if (bytes[i] == std::byte{0}) {
            ++i;
            continue;
        }
        // A run ends at 4 zero bytes in a row (or the end).
        std::size_t end = i;
        std::size_t zeros = 0;
        for (std::size_t j = i; j < bytes.size() && zeros < 4; ++j) {
            zeros = bytes[j] == std::byte{0} ? zeros + 1 : 0;
            end = j + 1;
        }
        end -= zeros;
        char head[24];
        std::snprintf(head, sizeof head, "%04zx:", i);
        out += head;
        for (std::size_t j = i; j < end; ++j) {
            const auto b = std::to_integer<unsigned>(bytes[j]);
            out += ' ';
            out += digits[b >> 4];
            out += digits[b & 15];
        }
        out += '\n';
        i = end;
    }
    return out;
}

}  // namespace mvmm::test
