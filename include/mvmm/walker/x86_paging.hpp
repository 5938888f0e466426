// x86-64 paging facts the walker needs: entry bits, address masks, levels.
//
// Levels are numbered the hardware way: 1 is a page table (PTE), 2 a page
// directory (PMD), 3 a page-directory-pointer table (PUD), 4 a PML4 and 5 a
// PML5. With 4-level paging the top (root) table is level 4; with 5-level it
// is level 5. Linux calls the root "pgd" in both cases and the level-4 table
// under a PML5 a "p4d".
#pragma once

#include <cstdint>
#include <string_view>

namespace mvmm::walker {

enum class PagingMode : std::uint8_t { four_level = 4, five_level = 5 };

inline constexpr int top_level(PagingMode mode) noexcept {
    return static_cast<int>(mode);
}

inline constexpr std::uint64_t kEntriesPerTable = 512;
inline constexpr std::uint64_t kTableBytes = 4096;

namespace entry {
inline constexpr std::uint64_t kPresent = 1ULL << 0;
inline constexpr std::uint64_t kWritable = 1ULL << 1;
inline constexpr std::uint64_t kUser = 1ULL << 2;
inline constexpr std::uint64_t kPageSize = 1ULL << 7;  // PS: a leaf at level 2 or 3
inline constexpr std::uint64_t kNoExecute = 1ULL << 63;
inline constexpr std::uint64_t kProtectionKeyMask = 0xfULL << 59;
// Bits 12..51: the physical address of the next table or of a 4 KiB page.
// Bits 52..62 (software bits, protection keys) and 63 (NX) are masked off.
inline constexpr std::uint64_t kAddressMask = 0x000f'ffff'ffff'f000ULL;
// For PS leaves bit 12 is PAT, so the frame is aligned to the leaf size.
inline constexpr std::uint64_t kAddressMask2M = 0x000f'ffff'ffe0'0000ULL;
inline constexpr std::uint64_t kAddressMask1G = 0x000f'ffff'c000'0000ULL;
}  // namespace entry

// Bytes mapped by one leaf entry at `level` (1: 4 KiB, 2: 2 MiB, 3: 1 GiB).
inline constexpr std::uint64_t leaf_bytes(int level) noexcept {
    return 4096ULL << (9 * (level - 1));
}

// Bytes of virtual address space one entry of a table at `level` covers.
inline constexpr std::uint64_t entry_span(int level) noexcept {
    return leaf_bytes(level);
}

// "pgd", "p4d", "pud", "pmd", "pte": Linux's name of a table at `level`.
std::string_view level_name(int level, PagingMode mode) noexcept;

// Index into the table at `level` for virtual address `va`.
inline constexpr unsigned table_index(std::uint64_t va, int level) noexcept {
    return static_cast<unsigned>((va >> (12 + 9 * (level - 1))) & 511);
}

// True if `va` is canonical for the paging mode (bits above the top sign-extend).
bool is_canonical(std::uint64_t va, PagingMode mode) noexcept;

// Control-register bits the walker's callers need.
namespace cr {
inline constexpr std::uint64_t kCr0Paging = 1ULL << 31;
inline constexpr std::uint64_t kCr4Pae = 1ULL << 5;
inline constexpr std::uint64_t kCr4La57 = 1ULL << 12;
inline constexpr std::uint64_t kCr4Pcide = 1ULL << 17;
inline constexpr std::uint64_t kEferLma = 1ULL << 10;
// CR3 bits 12..51 hold the root table; with PCIDs enabled bits 0..11 are the
// PCID and bit 63 is the no-flush hint.
inline constexpr std::uint64_t kCr3AddressMask = 0x000f'ffff'ffff'f000ULL;
}  // namespace cr

}  // namespace mvmm::walker
