// The x86-64 page-table walker: reads guest-physical memory through a
// PhysView and builds the graph of page tables reachable from a set of root
// (top-level) tables. It knows nothing about KVM, QEMU, engines or profiles.
//
// Each table page is read once, however many roots reach it: a second
// reference to a table already walked only records the reference. That is
// what makes sharing cheap to walk, and what bounds a hostile guest:
//   - the level strictly decreases on every step down, so no walk loops;
//   - every table is a distinct RAM page, so nodes <= RAM pages;
//   - references, recorded anomalies and root-set storage have limits;
//   - every read goes through PhysView, which refuses addresses outside RAM.
// Entries that point outside RAM, at their own table, at a table on the path
// above them, or at a page already used as a table at another level are
// counted and reported as anomalies and not followed.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include <mvmm/memory/phys_view.hpp>
#include <mvmm/walker/x86_paging.hpp>

namespace mvmm::walker {

inline constexpr std::uint32_t kNoNode = 0xffff'ffffU;

enum class AnomalyKind : std::uint8_t {
    table_outside_ram,   // a non-leaf entry points at an address that is not RAM
    leaf_outside_ram,    // a leaf maps a frame that is not RAM (may be MMIO)
    self_reference,      // an entry points at its own table
    cycle,               // an entry points at a table on the path above it
    level_conflict,      // an entry points at a page already used as a table at another level
    reserved_page_size,  // PS set in a level-4 or level-5 entry (reserved)
    pti_copy_mismatch,   // the user copy of a PTI pair differs from the kernel copy
    root_outside_ram,    // a root (or its PTI user copy) is not a RAM page
    reference_limit,     // too many references; further ones were counted, not stored
    root_set_limit,      // too many distinct sets of roots; sharing data is incomplete
};
inline constexpr std::size_t kAnomalyKinds = 10;

std::string_view anomaly_name(AnomalyKind kind) noexcept;

struct Anomaly {
    AnomalyKind kind{};
    std::uint8_t level = 0;   // level of the table that holds the entry
    std::uint16_t index = 0;  // entry index (512..1023: the user copy of a PTI pair)
    std::uint64_t table = 0;  // physical address of the table that holds the entry
    std::uint64_t entry = 0;  // the raw entry
};

struct WalkOptions {
    PagingMode mode = PagingMode::four_level;
    // Roots are PTI pairs: the kernel copy at the root address (8 KiB aligned)
    // and the user copy 4 KiB above it. Both pages are counted; user-half
    // entries of the user copy that differ from the kernel copy are reported
    // and walked too.
    bool pti = false;
    // Which top-level entries to walk. Default: the user half (0..255).
    std::bitset<512> top_slots = user_half();
    // Record every frame mapped by a leaf in a bitmap (for classifying pages).
    bool leaf_bitmap = false;
    std::size_t max_references = std::size_t{1} << 24;
    std::size_t max_recorded_anomalies = 1000;
    std::size_t max_root_set_members = std::size_t{1} << 24;

    static std::bitset<512> user_half() {
        std::bitset<512> slots;
        for (std::size_t i = 0; i < 256; ++i) {
            slots.set(i);
        }
        return slots;
    }
};

struct TableNode {
    std::uint64_t phys = 0;                // page address of the table
    std::uint8_t level = 0;                // 1..5
    std::uint8_t pages = 1;                // 2 for a PTI root pair
    bool root = false;                     // one of the walk's roots
    std::uint32_t tables = 0;              // entries that point at a lower table
    std::uint32_t leaves = 0;              // present leaf entries (each leaf_bytes(level))
    std::uint32_t leaves_outside_ram = 0;  // of those, frames that are not RAM
    std::uint32_t nonpresent_nonzero = 0;  // swap, migration and PROT_NONE entries
    std::uint32_t root_set = 0;            // see WalkResult::roots_of()
};

// One entry that points at a table: entry `index` of table `parent` points at `child`.
struct Reference {
    std::uint32_t parent = 0;
    std::uint32_t child = 0;
    std::uint16_t index = 0;  // 512..1023 for the user copy of a PTI root pair
};

// Counts indexed by level (index 0 unused).
using PerLevel = std::array<std::uint64_t, 6>;

struct RootSummary {
    std::uint64_t phys = 0;          // the root as given
    std::uint32_t node = kNoNode;    // its node, or kNoNode if it is not RAM
    PerLevel own_tables{};           // table pages reached from this root only
    PerLevel shared_tables{};        // table pages also reached from other roots
    PerLevel leaves{};               // leaf entries reachable, by level (1: 4K, 2: 2M, 3: 1G)
    std::uint64_t mapped_bytes = 0;  // bytes those leaves map
};

// Everything below one table, each table counted once.
struct Subtree {
    PerLevel tables{};  // table pages per level, not counting the table itself
    PerLevel leaves{};
    std::uint64_t mapped_bytes = 0;
};

class WalkResult {
  public:
    [[nodiscard]] PagingMode mode() const noexcept { return mode_; }
    [[nodiscard]] bool pti() const noexcept { return pti_; }
    [[nodiscard]] const std::vector<TableNode>& nodes() const noexcept { return nodes_; }
    [[nodiscard]] const std::vector<RootSummary>& roots() const noexcept { return roots_; }

    // The node of the table page at `phys` (any address inside the page), if walked.
    [[nodiscard]] std::optional<std::uint32_t> find(std::uint64_t phys) const noexcept;
    // The entries that point at `node`.
    [[nodiscard]] std::span<const Reference> referrers(std::uint32_t node) const noexcept;
    // The entries of `node` that point at lower tables.
    [[nodiscard]] std::span<const Reference> children(std::uint32_t node) const noexcept;
    // Indices (into roots()) of the roots from which `node` is reachable, sorted.
    [[nodiscard]] std::span<const std::uint32_t> roots_of(std::uint32_t node) const noexcept;
    [[nodiscard]] bool shared(std::uint32_t node) const noexcept {
        return roots_of(node).size() > 1;
    }
    [[nodiscard]] Subtree below(std::uint32_t node) const;

    // Distinct table pages walked, per level (PTI pairs count 2 pages).
    [[nodiscard]] const PerLevel& unique_tables() const noexcept { return unique_tables_; }
    // Table pages counted once per root that reaches them.
    [[nodiscard]] const PerLevel& tables_per_root_sum() const noexcept { return per_root_tables_; }
    [[nodiscard]] std::uint64_t entries_read() const noexcept { return entries_read_; }

    [[nodiscard]] const std::vector<Anomaly>& anomalies() const noexcept { return anomalies_; }
    [[nodiscard]] const std::array<std::uint64_t, kAnomalyKinds>& anomaly_counts() const noexcept {
        return anomaly_counts_;
    }
    [[nodiscard]] std::uint64_t anomaly_total() const noexcept;
    // True if a limit was hit and some references or sharing data are missing.
    [[nodiscard]] bool truncated() const noexcept { return truncated_; }

    // With WalkOptions::leaf_bitmap: true if some walked leaf maps the 4 KiB
    // frame at `phys` (2 MiB and 1 GiB leaves mark all their frames).
    [[nodiscard]] bool leaf_maps(std::uint64_t phys) const noexcept;

  private:
    friend class WalkBuilder;

    PagingMode mode_ = PagingMode::four_level;
    bool pti_ = false;
    RamLayout layout_;
    std::vector<TableNode> nodes_;
    std::vector<RootSummary> roots_;
    std::vector<std::pair<std::uint64_t, std::uint32_t>> by_phys_;  // sorted
    std::vector<Reference> refs_;                                   // sorted by child
    std::vector<std::uint32_t> ref_begin_;                          // per node, into refs_
    std::vector<Reference> child_refs_;                             // sorted by parent
    std::vector<std::uint32_t> child_begin_;                        // per node, into child_refs_
    std::vector<std::uint32_t> set_begin_;                          // per set, into set_members_
    std::vector<std::uint32_t> set_members_;
    PerLevel unique_tables_{};
    PerLevel per_root_tables_{};
    std::uint64_t entries_read_ = 0;
    std::vector<Anomaly> anomalies_;
    std::array<std::uint64_t, kAnomalyKinds> anomaly_counts_{};
    bool truncated_ = false;
    std::vector<std::uint64_t> leaf_bits_;  // one bit per backing page
};

// Walks the tables reachable from `roots` (physical addresses of top-level
// tables; low 12 bits ignored). Never throws on bad guest data; throws
// std::bad_alloc only if the host runs out of memory.
WalkResult walk(const PhysView& memory, std::span<const std::uint64_t> roots,
                const WalkOptions& options);

struct Translation {
    std::uint64_t phys = 0;        // the physical address `va` maps to
    std::uint64_t page_bytes = 0;  // size of the leaf: 4 KiB, 2 MiB or 1 GiB
    std::uint64_t entry = 0;       // the leaf entry
};

// Translates a virtual address through the tables under `root`. Returns
// nothing if `va` is not canonical, an entry on the way is not present, or a
// table is not RAM.
std::optional<Translation> translate(const PhysView& memory, std::uint64_t root, std::uint64_t va,
                                     PagingMode mode) noexcept;

}  // namespace mvmm::walker
