// One analysis of guest memory: find the top-level tables (from the task
// list with a profile, from the kernel-half scan without one, or both), walk
// them once, and work out which tables are shared, by whom, and whether the
// kernel's own share counts agree. Reads guest memory only through PhysView;
// the caller decides whether the guest is paused (see Introspector).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <mvmm/engine/engine.hpp>
#include <mvmm/introspect/guest_kernel.hpp>
#include <mvmm/introspect/processes.hpp>
#include <mvmm/introspect/profile.hpp>
#include <mvmm/memory/phys_view.hpp>
#include <mvmm/walker/root_scan.hpp>
#include <mvmm/walker/walker.hpp>

namespace mvmm {

struct AnalysisOptions {
    std::optional<walker::PagingMode> mode;  // default: from a vCPU's CR4, else 4-level
    std::optional<bool> pti;                 // default: detected (see docs/introspection.md)
    bool scan = true;                        // find roots by the kernel-half scan as well
    bool scan_resident_only = false;         // see walker::RootScanOptions::resident_only
    bool leaf_bitmap = false;                // needed to classify dirty pages
    bool verify_profile = true;              // refuse a profile of another build
    std::size_t max_shared_detail = 4096;    // shared PUDs analysed in detail
    std::size_t max_references = std::size_t{1} << 24;
};

struct AnalysisInput {
    const PhysView* memory = nullptr;
    std::vector<SpecialRegisters> vcpus;  // may be empty (raw memory files)
    const Profile* profile = nullptr;     // optional
};

enum class RootOwner {
    task,     // mm of a task on the task list
    unowned,  // found by the scan, no task has it (msharefs host mm, text_poke mm, ...)
    unknown,  // found by the scan without a profile: owner not known
};

struct RootInfo {
    std::uint64_t phys = 0;
    RootOwner owner = RootOwner::unknown;
    std::optional<std::size_t> process;  // index into processes, for task roots
    bool empty = false;                  // no present entry in the walked slots
};

// One entry that points at a shared table, seen from one root.
struct SharedLink {
    std::uint32_t root = 0;   // index into Analysis::roots
    std::uint64_t table = 0;  // the table holding the entry (the root itself on 4-level)
    int level = 0;            // its level
    unsigned index = 0;       // entry index (512.. for a PTI user copy)
    std::uint64_t va = 0;     // first virtual address the entry maps
};

struct SharedPud {
    std::uint32_t node = 0;
    std::uint64_t phys = 0;
    std::vector<SharedLink> links;
    std::vector<std::uint32_t> task_roots;     // reaching roots owned by tasks
    std::vector<std::uint32_t> host_roots;     // reaching roots owned by no task
    std::vector<std::uint32_t> unknown_roots;  // reaching roots of unknown owner
    walker::Subtree below;
    std::optional<std::int32_t> share_count;  // the kernel's count, if readable
    std::string status;                       // "consistent", "inconsistent", "unknown"
};

struct KernelFacts {
    std::uint64_t phys_base = 0;
    std::uint64_t page_offset = 0;
    std::uint64_t vmemmap_base = 0;
    std::uint64_t kernel_root = 0;
};

struct Analysis {
    walker::PagingMode mode = walker::PagingMode::four_level;
    std::string mode_source;
    bool pti = false;
    std::string pti_source;
    std::optional<std::uint64_t> reference_root;  // kernel-half reference for the scan
    std::string reference_source;
    std::string root_source;  // "profile", "scan", "profile+scan"

    std::optional<std::string> profile_path;
    std::optional<ProfileCheck> profile_check;
    std::optional<KernelFacts> kernel;
    std::optional<ProcessList> processes;
    std::optional<walker::RootScan> scan;
    std::size_t free_roots_skipped = 0;    // scan hits whose page is free (stale copies)
    std::size_t kernel_alias_skipped = 0;  // scan hits mapping kernel tables (trampoline)

    std::vector<RootInfo> roots;  // in walk order
    walker::WalkResult walk;
    std::optional<walker::WalkResult> kernel_walk;  // the kernel half of the reference

    walker::PerLevel shared_tables{};  // shared table pages per level
    std::vector<SharedPud> shared_puds;
    bool shared_truncated = false;

    double scan_seconds = 0;
    double process_seconds = 0;
    double walk_seconds = 0;
    double analysis_seconds = 0;  // everything, including the above
    std::vector<std::string> notes;
};

// Throws Error if nothing can be analysed (no profile and no vCPU in long
// mode, or a profile that does not match the guest). Bad guest data never
// throws: it ends up in anomalies, problems and notes.
Analysis analyze(const AnalysisInput& input, const AnalysisOptions& options = {});

// The virtual address an entry at `index` of a table at `level` starts,
// given the address the table itself starts at (sign-extended to canonical).
std::uint64_t entry_va(std::uint64_t table_va, int level, unsigned index,
                       walker::PagingMode mode) noexcept;

}  // namespace mvmm
