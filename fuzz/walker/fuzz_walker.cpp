// Feeds arbitrary bytes to the page-table walker as guest RAM. The walker, the
// root scan, translation and the whole analysis (with and without a profile)
// must never crash, hang, read outside RAM or throw anything but mvmm::Error.
//
// Input layout: byte 0 holds flags (bit 0: 5-level, bit 1: PTI, bit 2: give
// the analysis a profile), bytes 1..8 a CR3, the rest is guest RAM from
// physical address 0 (zero-filled up to kRam). Roots for the plain walk are
// CR3 and every page whose first byte is 0xa5.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <nlohmann/json.hpp>
#include <vector>

#include <mvmm/common/error.hpp>
#include <mvmm/introspect/accounting.hpp>
#include <mvmm/introspect/analysis.hpp>
#include <mvmm/introspect/profile.hpp>
#include <mvmm/memory/phys_view.hpp>
#include <mvmm/walker/root_scan.hpp>
#include <mvmm/walker/walker.hpp>

namespace {

constexpr std::size_t kRam = 64 * 4096;

// A profile whose symbols lie inside the small RAM (phys_base 0): the fuzzer
// can reach the task-list walk by writing "Linux version " at linux_banner.
const mvmm::Profile& profile() {
    static const mvmm::Profile p = mvmm::Profile::parse(
        nlohmann::json{{"format", "mshare-vmm-profile/1"},
                       {"kernel_release", "6.12.117-mshare"},
                       {"build_id", "00"},
                       {"banner", "Linux version 6.12.117-mshare\n"},
                       {"symbols",
                        {{"init_task", "0xffffffff80001000"},
                         {"init_top_pgt", "0xffffffff80002000"},
                         {"phys_base", "0xffffffff80003000"},
                         {"linux_banner", "0xffffffff80003100"},
                         {"page_offset_base", "0xffffffff80003008"},
                         {"vmemmap_base", "0xffffffff80003010"}}},
                       {"offsets",
                        {{"task_struct.tasks", 0x100},
                         {"task_struct.pid", 0x200},
                         {"task_struct.tgid", 0x204},
                         {"task_struct.comm", 0x300},
                         {"task_struct.mm", 0x180},
                         {"mm_struct.pgd", 0x50},
                         {"mm_struct.pgtables_bytes", 0x88},
                         {"page.size", 64},
                         {"ptdesc.pt_share_count", 40},
                         {"page._refcount", 52}}},
                       {"config", {{"CONFIG_MSHARE", true}, {"CONFIG_X86_5LEVEL", false}}}},
        "fuzz-profile");
    return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 9) {
        return 0;
    }
    const std::uint8_t flags = data[0];
    std::uint64_t cr3 = 0;
    std::memcpy(&cr3, data + 1, 8);
    std::vector<std::byte> ram(kRam);
    std::memcpy(ram.data(), data + 9, std::min(size - 9, kRam));
    const mvmm::PhysView view(ram, mvmm::RamLayout({{0, kRam, 0}}));
    const auto mode = (flags & 1) != 0 ? mvmm::walker::PagingMode::five_level
                                       : mvmm::walker::PagingMode::four_level;

    // The plain walk over CR3 and marked pages, all top-level slots.
    std::vector<std::uint64_t> roots{cr3};
    for (std::size_t page = 0; page < kRam; page += 4096) {
        if (std::to_integer<std::uint8_t>(ram[page]) == 0xa5) {
            roots.push_back(page);
        }
    }
    mvmm::walker::WalkOptions wo;
    wo.mode = mode;
    wo.pti = (flags & 2) != 0;
    wo.top_slots.set();
    wo.leaf_bitmap = true;
    const auto r = mvmm::walker::walk(view, roots, wo);
    for (std::uint32_t n = 0; n < r.nodes().size(); ++n) {
        (void)r.below(n);
        (void)r.roots_of(n);
    }
    (void)mvmm::walker::translate(view, cr3, cr3 ^ 0xffff'ffff'8000'0000ULL, mode);

    try {
        (void)mvmm::walker::scan_for_roots(view, cr3, {(flags & 2) != 0, 64});
    } catch (const mvmm::Error&) {
    }

    // The full analysis and report.
    mvmm::AnalysisInput in;
    in.memory = &view;
    mvmm::SpecialRegisters regs;
    regs.cr0 = mvmm::walker::cr::kCr0Paging;
    regs.efer = mvmm::walker::cr::kEferLma;
    regs.cr3 = cr3;
    regs.cr4 = (flags & 1) != 0 ? mvmm::walker::cr::kCr4La57 : 0;
    in.vcpus = {regs};
    in.profile = (flags & 4) != 0 ? &profile() : nullptr;
    try {
        const auto a = mvmm::analyze(in);
        (void)mvmm::accounting_json(a, nullptr).dump();
    } catch (const mvmm::Error&) {
    }
    return 0;
}
