// Analysis of a synthetic guest kernel: processes from the task list, the
// symbol-less scan, shared PUDs with their sharers and host mm, share-count
// consistency, accounting, and refusal of a profile from another build.
#include <algorithm>
#include <memory>
#include <string>

#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/introspect/accounting.hpp>
#include <mvmm/introspect/analysis.hpp>
#include <mvmm/introspect/synthetic_kernel.hpp>

namespace mvmm {
namespace {

using walker::kTableFlags;
using walker::PagingMode;

constexpr std::uint64_t kRegion = 0x0000'7f00'0000'0000ULL;  // 512 GiB aligned

// A guest with: pid 1 (init, own tables), pids 10..10+N-1 sharing one 8 MiB
// region through the host mm's PUD, a kernel thread, and the host mm itself
// (no task).
struct Guest {
    explicit Guest(unsigned sharers = 3, PagingMode mode = PagingMode::four_level,
                   SyntheticKernelOptions options = {})
        : mem(96 * kMiB, mode), kernel(mem, options), pti(options.pti) {
        data = mem.alloc(2048);
        host = kernel.new_root();
        mem.map(host, kRegion, data, 8 * kMiB);
        pud = mem.table_for(host, kRegion, 3);

        init_root = kernel.new_root();
        mem.map(init_root, 0x40'0000, data, 64 * 4096);  // pud + pmd + pte
        kernel.add_process(1, "init", init_root, 3 * 4096);
        kernel.add_kernel_thread(2, "kthreadd");
        for (unsigned i = 0; i < sharers; ++i) {
            const auto root = kernel.new_root();
            mem.map(root, 0x40'0000, data, 4096);
            link(root);
            sharer_roots.push_back(root);
            kernel.add_process(static_cast<std::int32_t>(10 + i), "db", root, 3 * 4096);
        }
        kernel.set_share_count(pud, static_cast<std::int32_t>(sharers));
        profile = kernel.profile();
    }

    void link(std::uint64_t root) {
        if (pti) {
            mem.set_pti_entry(root, walker::table_index(kRegion, 4), pud | kTableFlags);
        } else if (mem.mode() == PagingMode::four_level) {
            mem.set_entry(root, walker::table_index(kRegion, 4), pud | kTableFlags);
        } else {
            const auto p4d = mem.table_for(root, kRegion, 4);
            mem.set_entry(p4d, walker::table_index(kRegion, 4), pud | kTableFlags);
        }
    }
    void unlink(std::uint64_t root) {
        if (pti) {
            mem.set_pti_entry(root, walker::table_index(kRegion, 4), 0);
        } else if (mem.mode() == PagingMode::four_level) {
            mem.set_entry(root, walker::table_index(kRegion, 4), 0);
        } else {
            const auto p4d = mem.table_for(root, kRegion, 4);
            mem.set_entry(p4d, walker::table_index(kRegion, 4), 0);
        }
    }

    Analysis run(bool with_profile = true, AnalysisOptions options = {}) {
        AnalysisInput in;
        in.memory = &mem.view();
        in.vcpus = {kernel.registers(sharer_roots.empty() ? 0 : sharer_roots.front())};
        in.profile = with_profile ? &profile : nullptr;
        return analyze(in, options);
    }

    walker::SyntheticMemory mem;
    SyntheticKernel kernel;
    bool pti = false;
    Profile profile;
    std::uint64_t data = 0;
    std::uint64_t host = 0;
    std::uint64_t pud = 0;
    std::uint64_t init_root = 0;
    std::vector<std::uint64_t> sharer_roots;
};

std::vector<std::int32_t> pids_of(const Analysis& a, const std::vector<std::uint32_t>& roots) {
    std::vector<std::int32_t> out;
    for (const auto r : roots) {
        out.push_back(a.processes->processes[*a.roots[r].process].pids.front());
    }
    std::sort(out.begin(), out.end());
    return out;
}

TEST(Analysis, ProcessesComeFromTheTaskList) {
    Guest g(2);
    const auto a = g.run();
    ASSERT_TRUE(a.processes.has_value());
    EXPECT_TRUE(a.processes->complete);
    EXPECT_TRUE(a.processes->problems.empty());
    EXPECT_EQ(a.processes->tasks, 5U);           // init_task, init, kthreadd, 2 sharers
    EXPECT_EQ(a.processes->kernel_threads, 2U);  // init_task and kthreadd
    ASSERT_EQ(a.processes->processes.size(), 3U);
    const auto& init = a.processes->processes[0];
    EXPECT_EQ(init.pids, std::vector<std::int32_t>{1});
    EXPECT_EQ(init.comm, "init");
    EXPECT_EQ(init.root, g.init_root);
    EXPECT_EQ(init.pgtables_bytes, 3 * 4096);
    EXPECT_EQ(a.processes->processes[2].pids, std::vector<std::int32_t>{11});
    ASSERT_TRUE(a.profile_check.has_value());
    EXPECT_TRUE(a.profile_check->banner_checked);
    EXPECT_TRUE(a.profile_check->build_id_checked);
    ASSERT_TRUE(a.kernel.has_value());
    EXPECT_EQ(a.kernel->phys_base, g.kernel.phys_base());
    EXPECT_NE(a.kernel->phys_base, 0U);
    EXPECT_EQ(a.kernel->kernel_root, g.kernel.kernel_root());
    EXPECT_EQ(a.root_source, "profile+scan");
}

TEST(Analysis, ThreadsOfOneMmAreOneProcess) {
    Guest g(1);
    const auto root = g.kernel.new_root();
    const auto mm = g.kernel.add_process(50, "app", root);
    g.kernel.add_task_with_mm(51, "app-worker", mm);
    const auto a = g.run();
    const auto& procs = a.processes->processes;
    const auto it = std::find_if(procs.begin(), procs.end(),
                                 [](const GuestProcess& p) { return p.pids.front() == 50; });
    ASSERT_NE(it, procs.end());
    EXPECT_EQ(it->pids, (std::vector<std::int32_t>{50, 51}));
    EXPECT_EQ(procs.size(), 3U);
}

TEST(Analysis, OneSharedPudReachedFromEverySharerAndTheHost) {
    Guest g(3);
    const auto a = g.run();
    ASSERT_EQ(a.shared_puds.size(), 1U);
    const auto& s = a.shared_puds[0];
    EXPECT_EQ(s.phys, g.pud);
    EXPECT_EQ(pids_of(a, s.task_roots), (std::vector<std::int32_t>{10, 11, 12}));
    ASSERT_EQ(s.host_roots.size(), 1U);
    EXPECT_EQ(a.roots[s.host_roots[0]].phys, g.host);
    EXPECT_EQ(a.roots[s.host_roots[0]].owner, RootOwner::unowned);
    EXPECT_TRUE(s.unknown_roots.empty());
    EXPECT_EQ(s.links.size(), 4U);
    for (const auto& l : s.links) {
        EXPECT_EQ(l.level, 4);
        EXPECT_EQ(l.index, walker::table_index(kRegion, 4));
        EXPECT_EQ(l.va, kRegion);
    }
    EXPECT_EQ(s.share_count, 3);
    EXPECT_EQ(s.status, "consistent");
    EXPECT_EQ(s.below.tables[2], 1U);
    EXPECT_EQ(s.below.tables[1], 4U);
    EXPECT_EQ(s.below.leaves[1], 2048U);
    EXPECT_EQ(s.below.mapped_bytes, 8 * kMiB);
    EXPECT_EQ(a.shared_tables[3], 1U);
    EXPECT_EQ(a.shared_tables[1], 4U);
    EXPECT_EQ(a.shared_tables[4], 0U);
}

TEST(Analysis, AShareCountThatDisagreesIsInconsistent) {
    Guest g(3);
    g.kernel.set_share_count(g.pud, 4);
    auto a = g.run();
    ASSERT_EQ(a.shared_puds.size(), 1U);
    EXPECT_EQ(a.shared_puds[0].share_count, 4);
    EXPECT_EQ(a.shared_puds[0].status, "inconsistent");

    // A sharer whose link is gone while the count still says 3.
    g.kernel.set_share_count(g.pud, 3);
    g.unlink(g.sharer_roots[1]);
    a = g.run();
    ASSERT_EQ(a.shared_puds.size(), 1U);
    EXPECT_EQ(a.shared_puds[0].task_roots.size(), 2U);
    EXPECT_EQ(a.shared_puds[0].status, "inconsistent");
}

TEST(Analysis, AfterEveryoneDetachesNoSharedPudRemains) {
    Guest g(3);
    for (const auto root : g.sharer_roots) {
        g.unlink(root);
    }
    g.kernel.set_share_count(g.pud, 0);
    const auto a = g.run();
    EXPECT_TRUE(a.shared_puds.empty());
    EXPECT_EQ(a.shared_tables, walker::PerLevel{});
    // The host mm still owns its tables.
    const auto host = std::find_if(a.roots.begin(), a.roots.end(),
                                   [&](const RootInfo& r) { return r.phys == g.host; });
    ASSERT_NE(host, a.roots.end());
    const auto& summary = a.walk.roots()[static_cast<std::size_t>(host - a.roots.begin())];
    EXPECT_EQ(summary.own_tables[1], 4U);
    EXPECT_EQ(summary.mapped_bytes, 8 * kMiB);
}

TEST(Analysis, FiveLevelSharersLinkThroughTheirP4d) {
    Guest g(2, PagingMode::five_level);
    const auto a = g.run();
    EXPECT_EQ(a.mode, PagingMode::five_level);
    ASSERT_EQ(a.shared_puds.size(), 1U);
    const auto& s = a.shared_puds[0];
    EXPECT_EQ(s.task_roots.size(), 2U);
    EXPECT_EQ(s.host_roots.size(), 1U);
    EXPECT_EQ(s.status, "consistent");
    ASSERT_EQ(s.links.size(), 3U);
    for (const auto& l : s.links) {
        EXPECT_EQ(l.level, 4);
        EXPECT_EQ(l.va, kRegion);
    }
}

TEST(Analysis, WithoutAProfileTheScanFindsEveryTable) {
    Guest g(3);
    const auto a = g.run(false);
    EXPECT_EQ(a.root_source, "scan");
    EXPECT_FALSE(a.processes.has_value());
    EXPECT_EQ(a.reference_source, "vCPU 0 CR3");
    // 3 sharers, init, the host and the kernel's own table.
    EXPECT_EQ(a.roots.size(), 6U);
    ASSERT_EQ(a.shared_puds.size(), 1U);
    const auto& s = a.shared_puds[0];
    EXPECT_EQ(s.unknown_roots.size(), 4U);
    EXPECT_TRUE(s.task_roots.empty());
    EXPECT_EQ(s.status, "unknown");
    EXPECT_FALSE(s.share_count.has_value());
    const auto empty =
        std::count_if(a.roots.begin(), a.roots.end(), [](const RootInfo& r) { return r.empty; });
    EXPECT_EQ(empty, 1);  // the kernel's table has no user half
}

TEST(Analysis, FreedTablesThatStillLookLikeRootsAreSkipped) {
    Guest g(1);
    const auto stale = g.kernel.new_root();
    g.mem.map(stale, 0x40'0000, g.data, 4096);
    g.kernel.set_refcount(stale, 0);
    const auto a = g.run();
    EXPECT_EQ(a.free_roots_skipped, 1U);
    EXPECT_TRUE(std::none_of(a.roots.begin(), a.roots.end(),
                             [&](const RootInfo& r) { return r.phys == stale; }));
}

TEST(Analysis, TheTrampolineTableIsAKernelAliasNotAnMm) {
    Guest g(1);
    // Like the real-mode trampoline: a kernel-half copy whose entry 0 is the
    // kernel's direct-map PUD.
    const auto tramp = g.kernel.new_root();
    g.mem.set_entry(tramp, 0, g.mem.get_entry(g.kernel.kernel_root(), 273));
    for (const bool with_profile : {true, false}) {
        const auto a = g.run(with_profile);
        EXPECT_EQ(a.kernel_alias_skipped, 1U);
        EXPECT_TRUE(std::none_of(a.roots.begin(), a.roots.end(),
                                 [&](const RootInfo& r) { return r.phys == tramp; }));
        EXPECT_EQ(accounting_json(a, nullptr)["roots"]["kernel_alias_skipped"], 1);
    }
}

TEST(Analysis, AProfileOfAnotherBuildIsRefused) {
    Guest g(1);
    auto doc = g.kernel.profile_json();
    doc["build_id"] = "ffffffffffffffffffffffffffffffffffffffff";
    const auto other_id = Profile::parse(doc, "other.json");
    AnalysisInput in;
    in.memory = &g.mem.view();
    in.profile = &other_id;
    try {
        (void)analyze(in);
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("profile 'other.json' does not match the running guest"),
                  std::string::npos);
        EXPECT_NE(what.find("profile build id ffffffffffffffffffffffffffffffffffffffff"),
                  std::string::npos);
        EXPECT_NE(what.find("guest build id 0123456789abcdef"), std::string::npos);
    }

    doc = g.kernel.profile_json();
    doc["banner"] = "Linux version 6.12.118-mshare (someone@else) #2 SMP\n";
    doc["symbols"].erase("__start_notes");
    const auto other_banner = Profile::parse(doc, "b.json");
    in.profile = &other_banner;
    try {
        (void)analyze(in);
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("profile banner 'Linux version 6.12.118-mshare"), std::string::npos);
        EXPECT_NE(what.find("guest banner 'Linux version 6.12.117-mshare"), std::string::npos);
    }

    // Symbols of another build: linux_banner is not where the profile says.
    doc = g.kernel.profile_json();
    doc["symbols"]["linux_banner"] = "0xffffffff80007000";
    const auto moved = Profile::parse(doc, "m.json");
    in.profile = &moved;
    try {
        (void)analyze(in);
        FAIL() << "no error";
    } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_NE(what.find("no kernel banner at linux_banner"), std::string::npos);
        EXPECT_NE(what.find("guest banner 'Linux version 6.12.117-mshare"), std::string::npos);
    }
}

TEST(Analysis, ABrokenTaskListEndsTheWalkWithAProblem) {
    Guest g(2);
    // Make the last task's tasks.next point into nowhere.
    const auto last = g.kernel.task_phys(g.kernel.last_task());
    g.mem.write64(last + SyntheticKernel::kTasks, 0xffff'8880'4000'0000ULL);
    auto a = g.run();
    EXPECT_FALSE(a.processes->complete);
    ASSERT_FALSE(a.processes->problems.empty());
    EXPECT_NE(a.processes->problems[0].find("does not point back"), std::string::npos);
    EXPECT_EQ(a.processes->processes.size(), 3U);  // all tasks up to the break

    // A task whose next points at itself.
    const auto self = g.kernel.last_task() + SyntheticKernel::kTasks;
    g.mem.write64(last + SyntheticKernel::kTasks, self);
    a = g.run();
    EXPECT_FALSE(a.processes->complete);
}

TEST(Analysis, TheTaskListIsBounded) {
    Guest g(3);
    const GuestKernel kernel(g.mem.view(), g.profile, PagingMode::four_level);
    const auto list = list_processes(kernel, {2});
    EXPECT_FALSE(list.complete);
    EXPECT_EQ(list.tasks, 2U);
    EXPECT_NE(list.problems.back().find("longer than 2 tasks"), std::string::npos);
}

TEST(Analysis, PtiIsDetectedAndRootsArePairs) {
    SyntheticKernelOptions o;
    o.pti = true;
    Guest g(2, PagingMode::four_level, o);
    // The kernel's own table gets a populated user copy, as pti_init does.
    const auto trampoline = g.mem.alloc();
    g.mem.set_entry(g.kernel.kernel_root() + 4096, 510, trampoline | 3);
    const auto a = g.run();
    EXPECT_TRUE(a.pti);
    for (const auto& r : a.roots) {
        EXPECT_EQ(r.phys % 8192, 0U);
    }
    ASSERT_EQ(a.shared_puds.size(), 1U);
    EXPECT_EQ(a.shared_puds[0].status, "consistent");
    EXPECT_EQ(a.walk.anomaly_total(), 0U);
    EXPECT_EQ(a.walk.roots()[0].own_tables[4], 2U);

    // Without a profile, a vCPU in user mode has the user copy in CR3.
    AnalysisInput in;
    in.memory = &g.mem.view();
    in.vcpus = {g.kernel.registers(g.sharer_roots[0] + 4096)};
    const auto b = analyze(in);
    EXPECT_TRUE(b.pti);
    EXPECT_EQ(b.reference_root, g.sharer_roots[0]);
}

TEST(Analysis, NothingToStartFromIsAnError) {
    Guest g(1);
    AnalysisInput in;
    in.memory = &g.mem.view();
    EXPECT_THROW((void)analyze(in), Error);
    in.vcpus = {SpecialRegisters{}};  // not in long mode
    EXPECT_THROW((void)analyze(in), Error);
}

TEST(Accounting, ReportsProcessesTotalsAndRegions) {
    Guest g(3);
    const auto a = g.run();
    GuestFigures guest;
    guest.vm_pte_bytes[10] = 3 * 4096;
    const auto j = accounting_json(a, &guest);

    EXPECT_EQ(j["format"], "mshare-vmm-accounting/1");
    EXPECT_EQ(j["guest"]["paging"], "4-level");
    ASSERT_EQ(j["processes"].size(), 4U);
    const auto& init = j["processes"][0];
    EXPECT_EQ(init["pid"], 1);
    EXPECT_EQ(init["comm"], "init");
    EXPECT_EQ(init["tables"]["pte"]["own"], 1);
    EXPECT_EQ(init["tables"]["pud"]["shared"], 0);
    EXPECT_EQ(init["walked_vm_pte_bytes"], 3 * 4096);
    EXPECT_EQ(init["kernel_vm_pte_bytes"], 3 * 4096);
    EXPECT_EQ(init["vm_pte_difference_bytes"], 0);
    EXPECT_TRUE(init["guest_vm_pte_bytes"].is_null());
    const auto& sharer = j["processes"][1];
    EXPECT_EQ(sharer["pid"], 10);
    EXPECT_EQ(sharer["tables"]["pud"]["own"], 1);
    EXPECT_EQ(sharer["tables"]["pud"]["shared"], 1);
    EXPECT_EQ(sharer["tables"]["pte"]["shared"], 4);
    EXPECT_EQ(sharer["shared_bytes"], (1 + 1 + 4) * 4096);
    EXPECT_EQ(sharer["mapped_bytes"], 8 * kMiB + 4096);
    EXPECT_EQ(sharer["guest_vm_pte_bytes"], 3 * 4096);

    // Unique tables: 5 roots; init and 3 sharers own pud+pmd+pte each; the
    // host's region is pud + pmd + 4 pte.
    const auto& t = j["totals"];
    EXPECT_EQ(t["unique_table_pages"]["pgd"], 5);
    EXPECT_EQ(t["unique_table_pages"]["pud"], 4 + 1);
    EXPECT_EQ(t["unique_table_pages"]["pte"], 4 + 4);
    const std::uint64_t unique = (5 + 5 + 5 + 8) * 4096;
    EXPECT_EQ(t["unique_table_bytes"]["total"], unique);
    // Without sharing each of 3 sharers needs its own pud+pmd+4 pte; the host's
    // copy counts once.
    EXPECT_EQ(t["bytes_without_sharing"], unique + 2 * 6 * 4096);
    EXPECT_EQ(t["savings_bytes"], 2 * 6 * 4096);
    EXPECT_GT(t["savings_ratio"].get<double>(), 1.0);
    EXPECT_EQ(t["page_tables_comparable_bytes"], (5 + 5 + 8) * 4096);
    EXPECT_EQ(t["kernel_vm_pte_bytes_sum"], 4 * 3 * 4096);
    EXPECT_TRUE(t["guest_page_tables_bytes"].is_null());
    EXPECT_TRUE(t["tolerance"]["within"].is_null());

    const auto& m = j["mshare"];
    ASSERT_EQ(m["shared_puds"].size(), 1U);
    const auto& pud = m["shared_puds"][0];
    EXPECT_EQ(pud["sharers"], (std::vector<int>{10, 11, 12}));
    EXPECT_EQ(pud["linked_task_roots"], 3);
    EXPECT_EQ(pud["share_count"], 3);
    EXPECT_EQ(pud["status"], "consistent");
    EXPECT_EQ(pud["host_roots"].size(), 1U);
    EXPECT_EQ(pud["below"]["tables"]["pte"], 4);
    EXPECT_EQ(pud["below"]["pages"]["4k"], 2048);
    EXPECT_EQ(m["all_consistent"], true);
    ASSERT_EQ(m["regions"].size(), 1U);
    const auto& region = m["regions"][0];
    EXPECT_EQ(region["size_bytes"], 512 * kGiB);
    EXPECT_EQ(region["mapped_bytes"], 8 * kMiB);
    EXPECT_EQ(region["resident_pages"]["4k"], 2048);
    EXPECT_EQ(region["sharers"], (std::vector<int>{10, 11, 12}));
    EXPECT_EQ(region["sharer_count"], 3);
    EXPECT_EQ(region["table_bytes"], 6 * 4096);
    EXPECT_FALSE(region["host_root"].is_null());

    EXPECT_EQ(j["unowned_roots"].size(), 1U);
    EXPECT_EQ(j["unowned_roots"][0]["links_shared_pud"], true);
    EXPECT_EQ(j["anomalies"]["total"], 0);
    EXPECT_GT(j["walk"]["entries_read"].get<std::uint64_t>(), 0U);
}

TEST(Accounting, ToleranceAgainstTheGuestsPageTables) {
    Guest g(1);
    // A 2 MiB leaf: anonymous THPs have a deposited PTE table the walk cannot see.
    const auto big = g.mem.alloc_aligned(512, 2 * kMiB);
    g.mem.map(g.init_root, 0x4000'0000ULL, big, 2 * kMiB, 2 * kMiB);
    const auto a = g.run();
    const auto comparable =
        accounting_json(a, nullptr)["totals"]["page_tables_comparable_bytes"].get<std::uint64_t>();
    GuestFigures guest;
    guest.page_tables_bytes = comparable + 4096;
    auto j = accounting_json(a, &guest);
    EXPECT_EQ(j["totals"]["tolerance"]["thp_deposit_max_bytes"], 4096);
    EXPECT_EQ(
        j["totals"]["tolerance"]["expected_bytes"],
        comparable + j["totals"]["tolerance"]["kernel_tables_max_bytes"].get<std::uint64_t>());
    EXPECT_GT(j["totals"]["tolerance"]["kernel_tables_max_bytes"].get<std::uint64_t>(), 0U);
    EXPECT_EQ(j["totals"]["tolerance"]["within"], true);
    EXPECT_EQ(j["totals"]["guest_minus_walked_bytes"], 4096);
    guest.page_tables_bytes = comparable - 4096;
    j = accounting_json(a, &guest);
    EXPECT_EQ(j["totals"]["tolerance"]["within"], false);
    const auto high = j["totals"]["tolerance"]["high_bytes"].get<std::uint64_t>();
    guest.page_tables_bytes = high + 4096;
    EXPECT_EQ(accounting_json(a, &guest)["totals"]["tolerance"]["within"], false);
}

TEST(Accounting, ImpliedSecondLevelTableBytes) {
    EXPECT_EQ(implied_table_bytes(0, 0, 0), 0U);
    // 1 PT, 1 PD, 1 PDPT, 1 PML4.
    EXPECT_EQ(implied_table_bytes(1, 0, 0), 4U * 4096);
    // 513 4K pages need 2 PTs.
    EXPECT_EQ(implied_table_bytes(513, 0, 0), 5U * 4096);
    EXPECT_EQ(implied_table_bytes(0, 3, 0), 3U * 4096);
    EXPECT_EQ(implied_table_bytes(0, 0, 2), 2U * 4096);
    EXPECT_EQ(implied_table_bytes(262144, 0, 0), (512U + 1 + 1 + 1) * 4096);
}

TEST(Accounting, WithoutAProfileProcessesAreAbsentWithAReason) {
    Guest g(2);
    const auto j = accounting_json(g.run(false), nullptr);
    EXPECT_TRUE(j["processes"].is_null());
    EXPECT_NE(j["processes_absent_reason"].get<std::string>().find("no profile"),
              std::string::npos);
    EXPECT_EQ(j["roots"]["unknown"], 5);
    EXPECT_TRUE(j["mshare"]["all_consistent"].is_null());
    EXPECT_EQ(j["mshare"]["regions"].size(), 1U);
}

}  // namespace
}  // namespace mvmm
