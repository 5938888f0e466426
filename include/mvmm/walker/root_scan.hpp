// Finding top-level page tables without symbols.
//
// Every process's top-level table carries the same kernel half: Linux copies
// the kernel's entries into each new table and never changes them afterwards
// (the kernel's own lower tables are allocated up front). So a RAM page whose
// kernel-half entries equal those of a known top-level table (for instance the
// one a vCPU's CR3 points at) is a top-level table too, whether a task owns it
// or not (an msharefs host mm has no task).
//
// Only the kernel-half entries that are present in the reference are
// compared: some slots (the PTI LDT remap) hold per-mm tables.
#pragma once

#include <cstdint>
#include <vector>

#include <mvmm/memory/phys_view.hpp>
#include <mvmm/walker/x86_paging.hpp>

namespace mvmm::walker {

struct RootScanOptions {
    // Roots are 8 KiB PTI pairs: only 8 KiB aligned pages are candidates.
    bool pti = false;
    // Stop after this many roots (a hostile guest can fill RAM with copies).
    std::size_t max_roots = std::size_t{1} << 20;
    // Skip pages the host holds nowhere (mincore(2) on the backing says not
    // resident). Reading such a page of a shared memory file (a KVM memfd,
    // QEMU's RAM file on tmpfs) makes the host allocate it, so a scan of a
    // guest that never touched most of its RAM would make all of it resident.
    // Right for live guest RAM, where such a page was never written and reads
    // as zeros (no table), or is in the host's swap (then the scan misses a
    // table there; the task list still finds tables of processes). Wrong for
    // a file on disk that is simply not cached yet: leave it off for images.
    bool resident_only = false;
};

struct RootScan {
    std::vector<std::uint64_t> roots;  // physical addresses, ascending, including the reference
    std::uint64_t pages_scanned = 0;
    std::uint64_t pages_skipped = 0;        // not resident on the host (resident_only)
    unsigned reference_kernel_entries = 0;  // present kernel-half entries compared
    bool truncated = false;                 // max_roots was reached
};

// Scans all RAM for pages whose kernel half matches the table at `reference`
// (physical; low 12 bits ignored). Throws Error if the reference is not RAM or
// has no present kernel-half entry to compare.
RootScan scan_for_roots(const PhysView& memory, std::uint64_t reference,
                        const RootScanOptions& options);

// The kernel-half slots (256..511) that are not present in the reference:
// slots whose contents are per mm, walked together with the user half.
std::vector<unsigned> per_mm_kernel_slots(const PhysView& memory, std::uint64_t reference);

}  // namespace mvmm::walker
