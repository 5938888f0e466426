// Where the loader puts things in guest-physical memory below 1 MiB. Every
// address here is fixed, so tests and the KVM engine can rely on it.
#pragma once

#include <cstdint>

namespace mvmm::boot_layout {

inline constexpr std::uint64_t kGdt = 0x500;            // 5 descriptors, 48 bytes
inline constexpr std::uint64_t kBootParams = 0x7000;    // the zero page, 4 KiB
inline constexpr std::uint64_t kBootStackTop = 0x9000;  // rsp at entry; stack below
inline constexpr std::uint64_t kPageTables = 0x9000;    // PML4, PDPT, 4 PDs: 24 KiB
inline constexpr std::uint64_t kPageTablesEnd = 0xf000;
inline constexpr std::uint64_t kCmdline = 0x20000;  // up to kCmdlineMax bytes
inline constexpr std::uint64_t kCmdlineMax = 0x10000;
inline constexpr std::uint64_t kEbda = 0x9fc00;       // reserved, as on PCs
inline constexpr std::uint64_t kLowMemEnd = 0xa0000;  // 640 KiB
inline constexpr std::uint64_t kBiosArea = 0xf0000;   // reserved; holds the MP table
inline constexpr std::uint64_t kBiosAreaEnd = 0x100000;
inline constexpr std::uint64_t kMpTable = kBiosArea;
inline constexpr std::uint64_t kHighMem = 0x100000;  // 1 MiB: nothing of ours above

// Identity-mapped at entry, with 2 MiB pages.
inline constexpr std::uint64_t kIdentityMapped = 4ULL << 30;

// Interrupt controllers (in-kernel irqchip of KVM).
inline constexpr std::uint64_t kIoApicBase = 0xfec00000;
inline constexpr std::uint64_t kLocalApicBase = 0xfee00000;

// GDT selectors of the 64-bit boot protocol.
inline constexpr std::uint16_t kBootCs = 0x10;
inline constexpr std::uint16_t kBootDs = 0x18;
inline constexpr std::uint16_t kBootTss = 0x20;

}  // namespace mvmm::boot_layout
