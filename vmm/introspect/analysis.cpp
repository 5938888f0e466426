#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <mvmm/common/clock.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/analysis.hpp>

namespace mvmm {
namespace {

using walker::PagingMode;
namespace entry = walker::entry;

std::uint64_t load(std::span<const std::byte> page, unsigned index) {
    std::uint64_t v = 0;
    std::memcpy(&v, page.data() + 8ULL * index, 8);
    return v;
}

unsigned present_in(std::span<const std::byte> page, unsigned from, unsigned to) {
    unsigned n = 0;
    for (unsigned i = from; i < to; ++i) {
        n += (load(page, i) & entry::kPresent) != 0 ? 1U : 0U;
    }
    return n;
}

bool same_user_half(std::span<const std::byte> a, std::span<const std::byte> b) {
    for (unsigned i = 0; i < 256; ++i) {
        const auto x = load(a, i);
        const auto y = load(b, i);
        if (((x ^ y) & entry::kPresent) != 0 ||
            ((x & entry::kPresent) != 0 && ((x ^ y) & entry::kAddressMask) != 0)) {
            return false;
        }
    }
    return true;
}

// Is `root` the kernel copy of a PTI pair? The user copy 4 KiB above it has
// the same user half and a kernel half of its own (the entry trampoline).
bool looks_like_pti_pair(const PhysView& memory, std::uint64_t root) {
    if (root % (2 * kPageSize) != 0) {
        return false;
    }
    const auto k = memory.page(root);
    const auto u = memory.page(root + kPageSize);
    if (k.empty() || u.empty()) {
        return false;
    }
    const auto ku = present_in(u, 256, 512);
    return ku > 0 && ku < present_in(k, 256, 512) && same_user_half(k, u);
}

const SpecialRegisters* long_mode_vcpu(const std::vector<SpecialRegisters>& vcpus,
                                       std::size_t& which) {
    for (std::size_t i = 0; i < vcpus.size(); ++i) {
        const auto& r = vcpus[i];
        if ((r.cr0 & walker::cr::kCr0Paging) != 0 && (r.efer & walker::cr::kEferLma) != 0) {
            which = i;
            return &r;
        }
    }
    return nullptr;
}

// Does the user half of `root` lead into the kernel's own tables (within two
// levels)? The real-mode trampoline's table maps low memory through the
// kernel's direct-map tables; it is a copy of kernel mappings, not an mm.
bool reaches_kernel_tables(const PhysView& memory, std::uint64_t root,
                           const walker::WalkResult& kernel) {
    const auto page = memory.page(root);
    if (page.empty()) {
        return false;
    }
    unsigned looked_below = 0;
    for (unsigned i = 0; i < 256; ++i) {
        const auto e = load(page, i);
        if ((e & entry::kPresent) == 0 || (e & entry::kPageSize) != 0) {
            continue;
        }
        const auto child = e & entry::kAddressMask;
        if (kernel.find(child)) {
            return true;
        }
        if (looked_below++ >= 4) {
            continue;
        }
        const auto below = memory.page(child);
        if (below.empty()) {
            continue;
        }
        for (unsigned j = 0; j < 512; ++j) {
            const auto f = load(below, j);
            if ((f & entry::kPresent) != 0 && (f & entry::kPageSize) == 0 &&
                kernel.find(f & entry::kAddressMask)) {
                return true;
            }
        }
    }
    return false;
}

bool profile_pti(const Profile& p) {
    return p.enabled("CONFIG_PAGE_TABLE_ISOLATION") ||
           p.enabled("CONFIG_MITIGATION_PAGE_TABLE_ISOLATION");
}

}  // namespace

std::uint64_t entry_va(std::uint64_t table_va, int level, unsigned index,
                       walker::PagingMode mode) noexcept {
    const auto shift = 12U + 9U * static_cast<unsigned>(level - 1);
    std::uint64_t va = table_va | (static_cast<std::uint64_t>(index % 512) << shift);
    const unsigned top_bit = mode == PagingMode::five_level ? 56 : 47;
    if (((va >> top_bit) & 1) != 0) {
        va |= ~((std::uint64_t{1} << (top_bit + 1)) - 1);
    }
    return va;
}

Analysis analyze(const AnalysisInput& input, const AnalysisOptions& options) {
    if (input.memory == nullptr) {
        throw Error("page-table analysis: no guest memory");
    }
    const PhysView& memory = *input.memory;
    const Stopwatch total;
    Analysis a;

    // Paging mode.
    std::size_t cpu_index = 0;
    const SpecialRegisters* cpu = long_mode_vcpu(input.vcpus, cpu_index);
    if (options.mode) {
        a.mode = *options.mode;
        a.mode_source = "option";
    } else if (cpu != nullptr) {
        a.mode = (cpu->cr4 & walker::cr::kCr4La57) != 0 ? PagingMode::five_level
                                                        : PagingMode::four_level;
        a.mode_source = cat("vCPU ", cpu_index, " CR4.LA57");
    } else {
        a.mode = PagingMode::four_level;
        a.mode_source = input.vcpus.empty() ? "default (no vCPU registers)"
                                            : "default (no vCPU in long mode yet)";
    }

    // The kernel, through the profile.
    std::optional<GuestKernel> kernel;
    if (input.profile != nullptr) {
        kernel.emplace(memory, *input.profile, a.mode);
        a.profile_path = input.profile->source;
        if (options.verify_profile) {
            a.profile_check = kernel->verify();
        }
        a.kernel = KernelFacts{kernel->phys_base(), kernel->page_offset(), kernel->vmemmap_base(),
                               kernel->kernel_root()};
    }

    // The reference top-level table whose kernel half the scan looks for.
    if (kernel) {
        a.reference_root = kernel->kernel_root();
        a.reference_source = "init_top_pgt (profile)";
    } else if (cpu != nullptr) {
        a.reference_root = cpu->cr3 & walker::cr::kCr3AddressMask;
        a.reference_source = cat("vCPU ", cpu_index, " CR3");
    }

    // PTI.
    if (options.pti) {
        a.pti = *options.pti;
        a.pti_source = "option";
    } else if (input.profile != nullptr && !profile_pti(*input.profile)) {
        a.pti = false;
        a.pti_source = "profile: page-table isolation not configured";
    } else if (a.reference_root) {
        auto ref = *a.reference_root;
        if ((ref & kPageSize) != 0 && looks_like_pti_pair(memory, ref - kPageSize)) {
            a.pti = true;
            a.pti_source = "vCPU CR3 points at the user copy of a PTI pair";
        } else if (looks_like_pti_pair(memory, ref)) {
            a.pti = true;
            a.pti_source = "the reference table's user copy is populated";
        } else {
            a.pti = false;
            a.pti_source = "the reference table has no populated PTI user copy";
        }
    } else {
        a.pti_source = "default";
    }
    if (a.pti && a.reference_root && (*a.reference_root & kPageSize) != 0) {
        *a.reference_root -= kPageSize;  // the kernel copy of the pair
    }
    if (!kernel && !a.reference_root) {
        throw Error(
            "page-table analysis: no profile and no vCPU in long mode, so no top-level table "
            "to start from (give a profile, or registers with the image)");
    }

    // Processes.
    if (kernel) {
        const Stopwatch sw;
        a.processes = list_processes(*kernel);
        a.process_seconds = sw.seconds();
    }

    // The scan.
    if (options.scan && a.reference_root) {
        const Stopwatch sw;
        try {
            walker::RootScanOptions so;
            so.pti = a.pti;
            so.resident_only = options.scan_resident_only;
            a.scan = walker::scan_for_roots(memory, *a.reference_root, so);
        } catch (const Error& e) {
            a.notes.push_back(cat("root scan skipped: ", e.what()));
        }
        a.scan_seconds = sw.seconds();
    }
    if (kernel && a.scan) {
        a.root_source = "profile+scan";
    } else if (kernel) {
        a.root_source = "profile";
    } else {
        a.root_source = "scan";
    }

    // Walk options: the user half and the per-mm kernel slots.
    walker::WalkOptions wo;
    wo.mode = a.mode;
    wo.pti = a.pti;
    wo.leaf_bitmap = options.leaf_bitmap;
    wo.max_references = options.max_references;
    std::vector<unsigned> per_mm;
    if (a.reference_root) {
        try {
            per_mm = walker::per_mm_kernel_slots(memory, *a.reference_root);
        } catch (const Error& e) {
            a.notes.push_back(cat("kernel half: ", e.what()));
        }
        for (const auto slot : per_mm) {
            wo.top_slots.set(slot);
        }
    }
    // The kernel half, once (before the roots: it tells kernel aliases apart).
    if (a.reference_root && !per_mm.empty()) {
        walker::WalkOptions ko = wo;
        ko.leaf_bitmap = false;
        ko.top_slots.reset();
        for (unsigned i = 256; i < 512; ++i) {
            ko.top_slots.set(i);
        }
        for (const auto slot : per_mm) {
            ko.top_slots.reset(slot);
        }
        ko.pti = false;
        const std::uint64_t ref[] = {*a.reference_root};
        a.kernel_walk = walker::walk(memory, ref, ko);
    }

    // Roots: tasks first, then what the scan found besides them.
    std::unordered_map<std::uint64_t, std::size_t> by_phys;
    std::vector<std::uint64_t> walk_roots;
    if (a.processes) {
        for (std::size_t i = 0; i < a.processes->processes.size(); ++i) {
            const auto phys = a.processes->processes[i].root & entry::kAddressMask;
            if (by_phys.count(phys) != 0) {
                a.notes.push_back(cat("pid ", a.processes->processes[i].pids.front(),
                                      ": top-level table ", hex(phys),
                                      " is also another mm's; counted once"));
                continue;
            }
            by_phys.emplace(phys, a.roots.size());
            a.roots.push_back({phys, RootOwner::task, i, false});
            walk_roots.push_back(phys);
        }
    }
    if (a.scan) {
        for (const auto phys : a.scan->roots) {
            if (by_phys.count(phys) != 0 || (kernel && phys == kernel->kernel_root())) {
                continue;
            }
            if (a.kernel_walk && reaches_kernel_tables(memory, phys, *a.kernel_walk)) {
                ++a.kernel_alias_skipped;  // e.g. the real-mode trampoline's table
                continue;
            }
            if (kernel) {
                const auto refs = kernel->page_refcount(phys);
                if (refs && *refs == 0) {
                    ++a.free_roots_skipped;  // a freed table that still looks like one
                    continue;
                }
            }
            by_phys.emplace(phys, a.roots.size());
            a.roots.push_back(
                {phys, kernel ? RootOwner::unowned : RootOwner::unknown, std::nullopt, false});
            walk_roots.push_back(phys);
        }
    }

    // The walk.
    {
        const Stopwatch sw;
        a.walk = walker::walk(memory, walk_roots, wo);
        a.walk_seconds = sw.seconds();
    }
    for (std::size_t i = 0; i < a.roots.size(); ++i) {
        const auto node = a.walk.roots()[i].node;
        if (node != walker::kNoNode) {
            const auto& n = a.walk.nodes()[node];
            a.roots[i].empty = n.tables == 0 && n.leaves == 0 && n.nonpresent_nonzero == 0;
        }
    }

    // Sharing.
    const auto& nodes = a.walk.nodes();
    std::vector<std::uint32_t> root_of_node(nodes.size(), walker::kNoNode);
    for (std::size_t i = 0; i < a.walk.roots().size(); ++i) {
        const auto node = a.walk.roots()[i].node;
        if (node != walker::kNoNode && root_of_node[node] == walker::kNoNode) {
            root_of_node[node] = static_cast<std::uint32_t>(i);
        }
    }
    std::vector<std::uint32_t> shared_puds;
    for (std::uint32_t id = 0; id < nodes.size(); ++id) {
        if (a.walk.shared(id)) {
            a.shared_tables[nodes[id].level] += nodes[id].pages;
            if (nodes[id].level == 3) {
                shared_puds.push_back(id);
            }
        }
    }
    std::sort(shared_puds.begin(), shared_puds.end(),
              [&](std::uint32_t x, std::uint32_t y) { return nodes[x].phys < nodes[y].phys; });
    if (shared_puds.size() > options.max_shared_detail) {
        a.shared_truncated = true;
        a.notes.push_back(cat(shared_puds.size(), " shared PUD tables; the first ",
                              options.max_shared_detail, " are analysed in detail"));
        shared_puds.resize(options.max_shared_detail);
    }
    const int top = walker::top_level(a.mode);
    for (const auto id : shared_puds) {
        SharedPud s;
        s.node = id;
        s.phys = nodes[id].phys;
        for (const auto& ref : a.walk.referrers(id)) {
            const auto& parent = nodes[ref.parent];
            if (parent.root) {
                s.links.push_back({root_of_node[ref.parent], parent.phys, parent.level, ref.index,
                                   entry_va(0, top, ref.index, a.mode)});
                continue;
            }
            for (const auto& up : a.walk.referrers(ref.parent)) {
                if (!nodes[up.parent].root) {
                    continue;
                }
                const auto base = entry_va(0, top, up.index, a.mode);
                s.links.push_back({root_of_node[up.parent], parent.phys, parent.level, ref.index,
                                   entry_va(base, parent.level, ref.index, a.mode)});
            }
        }
        for (const auto r : a.walk.roots_of(id)) {
            switch (a.roots[r].owner) {
                case RootOwner::task:
                    s.task_roots.push_back(r);
                    break;
                case RootOwner::unowned:
                    s.host_roots.push_back(r);
                    break;
                case RootOwner::unknown:
                    s.unknown_roots.push_back(r);
                    break;
            }
        }
        s.below = a.walk.below(id);
        if (kernel) {
            s.share_count = kernel->share_count(s.phys);
        }
        if (s.share_count) {
            s.status = static_cast<std::size_t>(*s.share_count) == s.task_roots.size() &&
                               *s.share_count >= 0
                           ? "consistent"
                           : "inconsistent";
        } else {
            s.status = "unknown";
        }
        a.shared_puds.push_back(std::move(s));
    }
    a.analysis_seconds = total.seconds();
    return a;
}

}  // namespace mvmm
