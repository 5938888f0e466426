// The CPU state at the kernel's 64-bit entry (boot.rst, "64-bit Boot
// Protocol"): long mode with paging, identity page tables, a GDT with flat
// __BOOT_CS (0x10) and __BOOT_DS (0x18), interrupts off, rsi = boot_params.
// Described without KVM types, so it can be pinned by unit tests and used by
// any engine that sets registers itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mvmm {

namespace x86 {
inline constexpr std::uint64_t kCr0Pe = 1ULL << 0;
inline constexpr std::uint64_t kCr0Mp = 1ULL << 1;
inline constexpr std::uint64_t kCr0Et = 1ULL << 4;
inline constexpr std::uint64_t kCr0Ne = 1ULL << 5;
inline constexpr std::uint64_t kCr0Wp = 1ULL << 16;
inline constexpr std::uint64_t kCr0Pg = 1ULL << 31;
inline constexpr std::uint64_t kCr4Pae = 1ULL << 5;
inline constexpr std::uint64_t kEferSce = 1ULL << 0;
inline constexpr std::uint64_t kEferLme = 1ULL << 8;
inline constexpr std::uint64_t kEferLma = 1ULL << 10;
inline constexpr std::uint64_t kPtePresent = 1ULL << 0;
inline constexpr std::uint64_t kPteWrite = 1ULL << 1;
inline constexpr std::uint64_t kPteUser = 1ULL << 2;
inline constexpr std::uint64_t kPteHuge = 1ULL << 7;
}  // namespace x86

// A segment register as the CPU caches it.
struct SegmentState {
    std::uint64_t base = 0;
    std::uint32_t limit = 0;  // in bytes (granularity applied)
    std::uint16_t selector = 0;
    std::uint8_t type = 0;
    bool present = false;
    std::uint8_t dpl = 0;
    bool db = false;
    bool s = false;  // code/data (true) or system (false)
    bool l = false;
    bool g = false;
    friend bool operator==(const SegmentState&, const SegmentState&) = default;
};

struct CpuEntryState {
    std::uint64_t rip = 0;
    std::uint64_t rsi = 0;
    std::uint64_t rsp = 0;
    std::uint64_t rflags = 0x2;
    std::uint64_t cr0 = 0;
    std::uint64_t cr3 = 0;
    std::uint64_t cr4 = 0;
    std::uint64_t efer = 0;
    std::uint64_t gdt_base = 0;
    std::uint16_t gdt_limit = 0;
    std::uint64_t idt_base = 0;
    std::uint16_t idt_limit = 0;
    SegmentState cs;
    SegmentState ds;  // also es, fs, gs, ss
    SegmentState tr;
};

// An 8-byte segment descriptor.
std::uint64_t make_segment_descriptor(std::uint32_t base, std::uint32_t limit, std::uint8_t access,
                                      std::uint8_t flags);
// What the CPU caches when `selector` loads `descriptor`.
SegmentState segment_from_descriptor(std::uint64_t descriptor, std::uint16_t selector);

// The boot GDT: null, null, code64 (0x10), data (0x18), a 16-byte TSS (0x20).
std::vector<std::uint64_t> build_boot_gdt();
std::vector<std::byte> gdt_bytes(const std::vector<std::uint64_t>& gdt);

// PML4 at base_gpa, one PDPT after it, then one PD per GiB: [0, bytes)
// identity-mapped with 2 MiB pages, supervisor, writable. `bytes` is rounded
// up to whole GiB and must be at most 512 GiB.
std::vector<std::byte> build_identity_page_tables(std::uint64_t base_gpa, std::uint64_t bytes);

// The state at the 64-bit entry with the boot_layout structures in place.
CpuEntryState long_mode_entry_state(std::uint64_t rip, std::uint64_t boot_params_gpa);

}  // namespace mvmm
