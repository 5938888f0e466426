#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/loader/boot_layout.hpp>
#include <mvmm/loader/byte_io.hpp>
#include <mvmm/loader/long_mode.hpp>

namespace mvmm {
namespace {

constexpr std::uint64_t kGiB = 1ULL << 30;
constexpr std::uint64_t k2MiB = 2ULL << 20;
constexpr std::uint64_t kTableBytes = 4096;

// Access bytes: P | DPL | S | type.
constexpr std::uint8_t kAccessCode = 0x9b;  // present, ring 0, code, exec/read, accessed
constexpr std::uint8_t kAccessData = 0x93;  // present, ring 0, data, read/write, accessed
constexpr std::uint8_t kAccessTss = 0x8b;   // present, ring 0, system, busy 64-bit TSS
// Flags nibble: G | D/B | L | AVL.
constexpr std::uint8_t kFlagsCode64 = 0xa;  // G, L
constexpr std::uint8_t kFlagsData = 0xc;    // G, D/B
constexpr std::uint32_t kTssLimit = 0x67;

}  // namespace

std::uint64_t make_segment_descriptor(std::uint32_t base, std::uint32_t limit, std::uint8_t access,
                                      std::uint8_t flags) {
    return (std::uint64_t{limit} & 0xffff) | ((std::uint64_t{base} & 0xffffff) << 16) |
           (std::uint64_t{access} << 40) | (((std::uint64_t{limit} >> 16) & 0xf) << 48) |
           ((std::uint64_t{flags} & 0xf) << 52) | ((std::uint64_t{base} >> 24) << 56);
}

SegmentState segment_from_descriptor(std::uint64_t d, std::uint16_t selector) {
    SegmentState s;
    s.selector = selector;
    s.base = ((d >> 16) & 0xffffff) | (((d >> 56) & 0xff) << 24);
    const auto raw_limit = static_cast<std::uint32_t>((d & 0xffff) | (((d >> 48) & 0xf) << 16));
    s.type = static_cast<std::uint8_t>((d >> 40) & 0xf);
    s.s = ((d >> 44) & 1) != 0;
    s.dpl = static_cast<std::uint8_t>((d >> 45) & 3);
    s.present = ((d >> 47) & 1) != 0;
    s.l = ((d >> 53) & 1) != 0;
    s.db = ((d >> 54) & 1) != 0;
    s.g = ((d >> 55) & 1) != 0;
    s.limit = s.g ? (raw_limit << 12) | 0xfff : raw_limit;
    return s;
}

std::vector<std::uint64_t> build_boot_gdt() {
    return {
        0,
        0,
        make_segment_descriptor(0, 0xfffff, kAccessCode, kFlagsCode64),
        make_segment_descriptor(0, 0xfffff, kAccessData, kFlagsData),
        make_segment_descriptor(0, kTssLimit, kAccessTss, 0),
        0,  // upper half of the 16-byte TSS descriptor: base bits 63:32 = 0
    };
}

std::vector<std::byte> gdt_bytes(const std::vector<std::uint64_t>& gdt) {
    std::vector<std::byte> out(gdt.size() * 8);
    ByteWriter w(out);
    for (std::size_t i = 0; i < gdt.size(); ++i) {
        w.u64(i * 8, gdt[i]);
    }
    return out;
}

std::vector<std::byte> build_identity_page_tables(std::uint64_t base_gpa, std::uint64_t bytes) {
    const std::uint64_t gib = (bytes + kGiB - 1) / kGiB;
    if (gib == 0 || gib > 512) {
        throw Error(
            cat("identity page tables: cannot map ", human_bytes(bytes), " (1 GiB to 512 GiB)"));
    }
    if (base_gpa % kTableBytes != 0) {
        throw Error(cat("identity page tables: base ", hex(base_gpa), " is not page-aligned"));
    }
    using namespace x86;
    std::vector<std::byte> out((2 + gib) * kTableBytes);
    ByteWriter w(out);
    const std::uint64_t pdpt = base_gpa + kTableBytes;
    w.u64(0, pdpt | kPtePresent | kPteWrite);
    for (std::uint64_t g = 0; g < gib; ++g) {
        const std::uint64_t pd = base_gpa + (2 + g) * kTableBytes;
        w.u64(kTableBytes + g * 8, pd | kPtePresent | kPteWrite);
        for (std::uint64_t i = 0; i < 512; ++i) {
            const std::uint64_t addr = g * kGiB + i * k2MiB;
            w.u64((2 + g) * kTableBytes + i * 8, addr | kPtePresent | kPteWrite | kPteHuge);
        }
    }
    return out;
}

CpuEntryState long_mode_entry_state(std::uint64_t rip, std::uint64_t boot_params_gpa) {
    namespace bl = boot_layout;
    using namespace x86;
    const auto gdt = build_boot_gdt();
    CpuEntryState s;
    s.rip = rip;
    s.rsi = boot_params_gpa;
    s.rsp = bl::kBootStackTop;
    s.rflags = 0x2;  // reserved bit 1; IF clear
    s.cr0 = kCr0Pe | kCr0Mp | kCr0Et | kCr0Ne | kCr0Wp | kCr0Pg;
    s.cr3 = bl::kPageTables;
    s.cr4 = kCr4Pae;
    s.efer = kEferLme | kEferLma;
    s.gdt_base = bl::kGdt;
    s.gdt_limit = static_cast<std::uint16_t>(gdt.size() * 8 - 1);
    s.idt_base = 0;
    s.idt_limit = 0;  // no IDT: an exception before the kernel sets one up is a triple fault
    s.cs = segment_from_descriptor(gdt[bl::kBootCs / 8], bl::kBootCs);
    s.ds = segment_from_descriptor(gdt[bl::kBootDs / 8], bl::kBootDs);
    s.tr = segment_from_descriptor(gdt[bl::kBootTss / 8], bl::kBootTss);
    return s;
}

}  // namespace mvmm
