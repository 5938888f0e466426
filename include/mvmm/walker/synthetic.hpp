// Synthetic guest memory with hand-built x86-64 page tables, for tests,
// fuzzing and benchmarks: no VM needed. Tables are laid out the way Linux
// lays them out (a kernel top-level table whose kernel half every process
// root copies; process tables below the user half), and anything a hostile
// guest could write can be written too.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_set>
#include <vector>

#include <mvmm/common/mapping.hpp>
#include <mvmm/memory/phys_view.hpp>
#include <mvmm/walker/x86_paging.hpp>

namespace mvmm::walker {

inline constexpr std::uint64_t kTableFlags = entry::kPresent | entry::kWritable | entry::kUser;

class SyntheticMemory {
  public:
    // Zeroed guest RAM laid out like the KVM engine's (RamLayout::x86_standard).
    // Allocation starts at `first_allocation` (low memory stays unused).
    explicit SyntheticMemory(std::uint64_t ram_bytes, PagingMode mode = PagingMode::four_level,
                             std::uint64_t first_allocation = kMiB);
    SyntheticMemory(const SyntheticMemory&) = delete;
    SyntheticMemory& operator=(const SyntheticMemory&) = delete;

    [[nodiscard]] const PhysView& view() const noexcept { return view_; }
    [[nodiscard]] PagingMode mode() const noexcept { return mode_; }

    // A zeroed page (or `pages` contiguous pages, aligned to their size rounded
    // up to a power of two, at most 2 MiB) from a bump allocator; throws Error
    // when RAM is full.
    std::uint64_t alloc(std::uint64_t pages = 1);
    // The same with an explicit alignment in bytes (a power of two).
    std::uint64_t alloc_aligned(std::uint64_t pages, std::uint64_t align_bytes);
    // Pages handed out so far.
    [[nodiscard]] std::uint64_t allocated_pages() const noexcept { return allocated_; }

    void write64(std::uint64_t gpa, std::uint64_t value);
    [[nodiscard]] std::uint64_t read64(std::uint64_t gpa) const;
    void set_entry(std::uint64_t table, unsigned index, std::uint64_t value) {
        write64(table + 8ULL * index, value);
    }
    [[nodiscard]] std::uint64_t get_entry(std::uint64_t table, unsigned index) const {
        return read64(table + 8ULL * index);
    }

    // Builds a kernel top-level table: slot 511 maps the kernel image (VA
    // 0xffffffff80000000 -> `image_pa`, one 2 MiB leaf), slot 273 (4-level)
    // the direct map of RAM with 1 GiB leaves, and a few vmalloc slots have
    // (empty) lower tables. The table is made at `root_pa` if given, else
    // allocated. Returns its address.
    std::uint64_t make_kernel_root(std::uint64_t image_pa = 0, std::uint64_t root_pa = 0);
    // Bytes to write through the view (tests build guest structures with it).
    void write(std::uint64_t gpa, std::span<const std::byte> bytes);
    // A new process root (8 KiB PTI pair if `pti`) whose kernel half copies `kernel_root`.
    std::uint64_t make_process_root(std::uint64_t kernel_root, bool pti = false);

    // Maps [va, va+bytes) to [pa, pa+bytes) under `root` with leaves of
    // `page_bytes` (4 KiB, 2 MiB or 1 GiB), allocating tables as needed.
    // `leaf_extra` is ORed into each leaf (NX, protection keys, ...).
    void map(std::uint64_t root, std::uint64_t va, std::uint64_t pa, std::uint64_t bytes,
             std::uint64_t page_bytes = 4096, std::uint64_t leaf_extra = 0);
    // The table at `level` on the path to `va` under `root`, made if missing.
    std::uint64_t table_for(std::uint64_t root, std::uint64_t va, int level);

    // With PTI: writes a user-half top-level entry into both copies of a pair,
    // NX set in the kernel copy the way Linux does.
    void set_pti_entry(std::uint64_t root, unsigned index, std::uint64_t value);

  private:
    PagingMode mode_;
    Mapping ram_;
    PhysView view_;
    std::uint64_t next_ = 0;
    std::uint64_t allocated_ = 0;
    std::uint64_t pti_kernel_table_ = 0;
    std::unordered_set<std::uint64_t> pti_roots_;
};

// The benchmark's and the tests' scenario: `processes` processes each map
// `bytes_per_process` with 4 KiB pages at the same virtual address. Unshared,
// each has its own PUD, PMD and PTE tables; shared, one host root owns the
// tables and every process's top-level entry points at the host's PUD, the
// way msharefs links a region.
struct ProcessImage {
    std::vector<std::uint64_t> process_roots;
    std::uint64_t host_root = 0;  // 0 if unshared
    std::uint64_t kernel_root = 0;
    std::uint64_t region_va = 0;
    std::uint64_t region_pud = 0;  // the host's PUD table if shared
};

struct ProcessImageSpec {
    unsigned processes = 4;
    std::uint64_t bytes_per_process = 8 * 1024 * 1024;
    bool shared = false;
    bool pti = false;
    // 512 GiB aligned (one top-level slot), as msharefs aligns regions.
    std::uint64_t region_va = 0x0000'7f00'0000'0000ULL;
};

// RAM needed for a ProcessImageSpec (tables, data and some slack).
std::uint64_t ram_needed(const ProcessImageSpec& spec);
ProcessImage build_process_image(SyntheticMemory& memory, const ProcessImageSpec& spec);

}  // namespace mvmm::walker
