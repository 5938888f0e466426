// The control socket's introspection part on a synthetic guest: two processes
// share one PUD table through a host mm; the replies carry the walk's figures
// under the protocol's names, and the share-count check follows the kernel's
// count.
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/guest_services/control_replies.hpp>
#include <mvmm/guest_services/introspection_backend.hpp>
#include <mvmm/introspect/synthetic_kernel.hpp>
#include <mvmm/protocol/error_class.hpp>

#include "introspect/fake_engine.hpp"

namespace mvmm::guest_services {
namespace {

using nlohmann::json;
using protocol::CommandError;
using protocol::ErrorClass;

constexpr std::uint64_t kRegion = 0x0000'7f00'0000'0000ULL;  // 512 GiB aligned
constexpr std::uint64_t kPage = 4096;

// pid 1 with 64 pages of its own; pids 20 and 21 (20 with a second thread,
// 22) sharing a 2 MiB region of the host mm, which no task owns.
struct Guest {
    Guest() : mem(64 * kMiB), kernel(mem) {
        data = mem.alloc(512);
        host = kernel.new_root();
        mem.map(host, kRegion, data, 2 * kMiB);
        pud = mem.table_for(host, kRegion, 3);
        init = kernel.new_root();
        mem.map(init, 0x40'0000, data, 64 * kPage);
        kernel.add_process(1, "init", init, 3 * kPage);
        for (int i = 0; i < 2; ++i) {
            const auto root = kernel.new_root();
            mem.map(root, 0x40'0000, data, kPage);
            mem.set_entry(root, walker::table_index(kRegion, 4), pud | walker::kTableFlags);
            const auto mm = kernel.add_process(20 + i, "sharer", root, 3 * kPage);
            if (i == 0) {
                kernel.add_task_with_mm(22, "sharer", mm);
            }
            roots.push_back(root);
        }
        kernel.set_share_count(pud, 2);
    }
    walker::SyntheticMemory mem;
    SyntheticKernel kernel;
    std::uint64_t data = 0, host = 0, pud = 0, init = 0;
    std::vector<std::uint64_t> roots;
};

ErrorClass error_class_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const CommandError& e) {
        return e.error_class();
    }
    ADD_FAILURE() << "no CommandError";
    return ErrorClass::generic_error;
}

TEST(IntrospectionBackend, ProcessesComeFromTheTaskListWithTheirRoots) {
    Guest g;
    test::FakeEngine engine(g.mem.view(), g.kernel.registers(g.roots[0]));
    IntrospectionBackend backend(engine, g.kernel.profile(), nullptr);
    const auto reply = backend.processes();
    ASSERT_EQ(reply["processes"].size(), 3U) << reply.dump();
    const auto& p = reply["processes"][1];
    EXPECT_EQ(p["pid"], 20);
    EXPECT_EQ(p["comm"], "sharer");
    EXPECT_EQ(p["pgd"], hex(g.roots[0]));
    EXPECT_TRUE(p["mm"].get<std::string>().starts_with("0xffff")) << p.dump();
    // Every walk pauses the guest and resumes it.
    EXPECT_EQ(engine.pauses, 1);
    EXPECT_EQ(engine.resumes, 1);
    EXPECT_EQ(engine.state(), RunState::running);
}

TEST(IntrospectionBackend, PageTablesOfOneProcessSplitOwnAndShared) {
    Guest g;
    test::FakeEngine engine(g.mem.view(), g.kernel.registers(g.roots[0]));
    IntrospectionBackend backend(engine, g.kernel.profile(), nullptr);
    for (const std::uint64_t pid : {20U, 22U}) {  // the process, and its second thread
        const auto r = backend.page_tables(pid);
        EXPECT_EQ(r["pid"], pid);
        EXPECT_EQ(r["pgd"], hex(g.roots[0]));
        // Own: its pgd and the PUD, PMD and PTE tables of its one page at
        // 4 MiB; shared: the region's PUD, PMD and PTE tables.
        const json levels = json::parse(R"([
            {"level": "pgd", "tables": 1, "own": 1, "shared": 0},
            {"level": "pud", "tables": 2, "own": 1, "shared": 1},
            {"level": "pmd", "tables": 2, "own": 1, "shared": 1},
            {"level": "pte", "tables": 2, "own": 1, "shared": 1}])");
        EXPECT_EQ(r["levels"], levels) << r.dump();
        EXPECT_EQ(r["own-bytes"], 4 * kPage);
        EXPECT_EQ(r["shared-bytes"], 3 * kPage);
        EXPECT_EQ(r["table-bytes"], 7 * kPage);
        EXPECT_EQ(r["mapped-bytes"], 2 * kMiB + kPage);
        EXPECT_EQ(r["walked-vm-pte-bytes"], 3 * kPage);
        EXPECT_EQ(r["kernel-vm-pte-bytes"], 3 * kPage);
    }
    EXPECT_EQ(error_class_of([&] { (void)backend.page_tables(4242); }),
              ErrorClass::device_not_found);
    EXPECT_EQ(error_class_of([&] { (void)backend.page_tables(1ULL << 40); }),
              ErrorClass::device_not_found);
}

TEST(IntrospectionBackend, RegionsCarryTheShareCountCheck) {
    Guest g;
    test::FakeEngine engine(g.mem.view(), g.kernel.registers(g.roots[0]));
    IntrospectionBackend backend(engine, g.kernel.profile(), nullptr);
    auto r = backend.mshare_regions();
    ASSERT_EQ(r["shared-puds"].size(), 1U) << r.dump();
    const auto pud = r["shared-puds"][0];
    EXPECT_EQ(pud["table"], hex(g.pud));
    EXPECT_EQ(pud["host-mm-pgd"], hex(g.host));
    EXPECT_EQ(pud["sharers"], json::array({20, 21}));
    EXPECT_EQ(pud["task-roots"], 2);
    EXPECT_EQ(pud["share-count"], 2);
    EXPECT_EQ(pud["consistent"], true);
    EXPECT_EQ(pud["pmd-tables"], 1);
    EXPECT_EQ(pud["pte-tables"], 1);
    EXPECT_EQ(pud["pages"], 512);
    ASSERT_EQ(r["regions"].size(), 1U);
    const auto region = r["regions"][0];
    EXPECT_EQ(region["start"], hex(kRegion));
    EXPECT_EQ(region["size"], 512 * kGiB);
    EXPECT_EQ(region["host-mm-pgd"], hex(g.host));
    EXPECT_EQ(region["mapped-bytes"], 2 * kMiB);
    EXPECT_EQ(region["resident-pages"], 512);
    EXPECT_EQ(region["table-bytes"], 3 * kPage);
    EXPECT_EQ(region["sharers"], json::array({20, 21}));
    EXPECT_EQ(region["consistent"], true);
    EXPECT_EQ(r["consistent"], true);

    // The kernel's count says 3 while two task roots link the table.
    g.kernel.set_share_count(g.pud, 3);
    r = backend.mshare_regions();
    EXPECT_EQ(r["shared-puds"][0]["share-count"], 3);
    EXPECT_EQ(r["shared-puds"][0]["consistent"], false);
    EXPECT_EQ(r["regions"][0]["consistent"], false);
    EXPECT_EQ(r["consistent"], false);

    // Both detach: nothing is shared, which is consistent.
    for (const auto root : g.roots) {
        g.mem.set_entry(root, walker::table_index(kRegion, 4), 0);
    }
    g.kernel.set_share_count(g.pud, 0);
    r = backend.mshare_regions();
    EXPECT_EQ(r, json::parse(R"({"regions": [], "shared-puds": [], "consistent": true})"));
}

TEST(IntrospectionBackend, AccountingWithoutTheAgentSaysWhyTheGuestFiguresAreMissing) {
    Guest g;
    test::FakeEngine engine(g.mem.view(), g.kernel.registers(g.roots[0]));
    IntrospectionBackend backend(engine, g.kernel.profile(), nullptr);
    const auto r = backend.accounting();
    ASSERT_EQ(r["processes"].size(), 3U) << r.dump();
    EXPECT_EQ(r["processes"][1]["pid"], 20);
    EXPECT_EQ(r["processes"][1]["walked-vm-pte-bytes"], 3 * kPage);
    EXPECT_EQ(r["processes"][1]["kernel-vm-pte-bytes"], 3 * kPage);
    EXPECT_TRUE(r["processes"][1]["vm-pte-bytes"].is_null());
    const auto& t = r["totals"];
    EXPECT_TRUE(t["guest-page-tables-bytes"].is_null());
    EXPECT_NE(t["guest-page-tables-absent"].get<std::string>().find("no guest agent"),
              std::string::npos)
        << t.dump();
    EXPECT_TRUE(t["within-tolerance"].is_null());
    // The region's three tables would exist once more without sharing.
    EXPECT_EQ(t["savings-bytes"], 3 * kPage);
    EXPECT_EQ(t["unshared-bytes"].get<std::uint64_t>(),
              t["walked-bytes"].get<std::uint64_t>() + 3 * kPage);
    EXPECT_DOUBLE_EQ(t["savings-ratio"].get<double>(),
                     3.0 * kPage / t["unshared-bytes"].get<double>());
    EXPECT_LE(t["page-tables-low-bytes"], t["expected-page-tables-bytes"]);
    EXPECT_LE(t["expected-page-tables-bytes"], t["page-tables-high-bytes"]);
    EXPECT_TRUE(r["kvm-absent"].is_string());
    EXPECT_FALSE(r.contains("kvm"));
    EXPECT_EQ(r["live"], false);
    EXPECT_GE(r["pause-seconds"].get<double>(), 0.0);
    EXPECT_EQ(r["anomalies"], 0);
    EXPECT_TRUE(r["host"].contains("vmm-vm-pte-bytes"));
    EXPECT_GE(r["walk"]["seconds"].get<double>(), 0.0);
    EXPECT_GE(r["walk"]["analysis-seconds"].get<double>(), r["walk"]["seconds"].get<double>());
    EXPECT_TRUE(r["walk"]["guest-collect-seconds"].is_null());
}

TEST(IntrospectionBackend, KvmSecondLevelFiguresWhenTheEngineHasThem) {
    Guest g;
    test::FakeEngine engine(g.mem.view(), g.kernel.registers(g.roots[0]));
    test::FakeKvm kvm;
    engine.kvm_ = &kvm;
    IntrospectionBackend backend(engine, g.kernel.profile(), nullptr);
    const auto r = backend.accounting();
    EXPECT_FALSE(r.contains("kvm-absent"));
    EXPECT_EQ(r["kvm"]["pages-4k"], 1000);
    EXPECT_EQ(r["kvm"]["pages-2m"], 3);
    EXPECT_EQ(r["kvm"]["pages-1g"], 0);
    EXPECT_EQ(r["kvm"]["second-level-table-bytes"], implied_table_bytes(1000, 3, 0));
}

TEST(IntrospectionBackend, WithoutAProfileOnlyTheScanAnswers) {
    Guest g;
    test::FakeEngine engine(g.mem.view(), g.kernel.registers(g.roots[0]));
    IntrospectionBackend backend(engine, std::nullopt, nullptr);
    EXPECT_THROW((void)backend.processes(), Error);
    EXPECT_THROW((void)backend.page_tables(20), Error);
    const auto regions = backend.mshare_regions();
    ASSERT_EQ(regions["shared-puds"].size(), 1U);
    EXPECT_TRUE(regions["shared-puds"][0]["share-count"].is_null());
    EXPECT_TRUE(regions["shared-puds"][0]["consistent"].is_null());
    EXPECT_TRUE(regions["consistent"].is_null());
    const auto acc = backend.accounting();
    EXPECT_EQ(acc["processes"], json::array());
    EXPECT_TRUE(acc["processes-absent"].is_string());
    EXPECT_GT(acc["totals"]["walked-bytes"].get<std::uint64_t>(), 0U);
}

TEST(IntrospectionBackend, TheDirtyLogComesBackClassified) {
    Guest g;
    test::FakeEngine engine(g.mem.view(), g.kernel.registers(g.roots[0]));
    IntrospectionBackend backend(engine, g.kernel.profile(), nullptr);
    // The QEMU engine: no dirty log, and the reason.
    EXPECT_EQ(error_class_of([&] { backend.dirty_mark(); }), ErrorClass::kvm_missing_cap);
    EXPECT_EQ(error_class_of([&] { (void)backend.dirty_collect(); }), ErrorClass::kvm_missing_cap);

    test::FakeKvm kvm;
    engine.kvm_ = &kvm;
    class EnginePart final : public control::KvmControl {
      public:
        nlohmann::json statistics() override { return {{"vm", 1}}; }
        void dirty_log_mark() override { ADD_FAILURE() << "marked past the introspection"; }
        nlohmann::json dirty_log_collect() override {
            ADD_FAILURE() << "collected past the introspection";
            return {};
        }
    } engine_part;
    ClassifiedKvmControl control(engine_part, backend);
    EXPECT_EQ(control.statistics(), json({{"vm", 1}}));
    control.dirty_log_mark();
    EXPECT_EQ(kvm.marks, 1);
    // The shared PUD, a page of the region's data, and a page nothing maps.
    kvm.dirty = {g.pud / kPage, g.data / kPage + 3, (g.data + 8 * kMiB) / kPage};
    const auto r = control.dirty_log_collect();
    EXPECT_EQ(r["count"], 3);
    EXPECT_EQ(r["pfns"], json(kvm.dirty));
    EXPECT_EQ(r["page-table-pages"]["pud"], 1) << r.dump();
    EXPECT_EQ(r["page-table-pages"]["total"], 1);
    EXPECT_EQ(r["user-data-pages"], 1);
    EXPECT_EQ(r["other-pages"], 1);
    EXPECT_GE(r["pause-seconds"].get<double>(), 0.0);
}

TEST(IntrospectionBackend, DirtyPagesComeBackEvenWhenNoWalkIsPossible) {
    Guest g;
    // No profile, and a vCPU not in long mode yet: nothing to walk from.
    test::FakeEngine engine(g.mem.view(), SpecialRegisters{});
    test::FakeKvm kvm;
    engine.kvm_ = &kvm;
    IntrospectionBackend backend(engine, std::nullopt, nullptr);
    backend.dirty_mark();
    kvm.dirty = {5, 6};
    const auto r = backend.dirty_collect();
    EXPECT_EQ(r["count"], 2);
    EXPECT_EQ(r["pfns"], json({5, 6}));
    EXPECT_TRUE(r["classification-absent"].is_string()) << r.dump();
    EXPECT_TRUE(r["page-table-pages"].is_null());
    EXPECT_EQ(engine.state(), RunState::running);
}

TEST(ControlReplies, ABrokenReportGivesEmptyRepliesNotACrash) {
    for (const auto& report : {json(nullptr), json::object(), json::array({1, 2}),
                               json::parse(R"({"mshare": {"regions": 3, "shared_puds": [{}]},
                                               "totals": "x", "kvm": [1]})")}) {
        EXPECT_THROW((void)processes_reply(report), Error) << report.dump();
        EXPECT_NO_THROW((void)regions_reply(report)) << report.dump();
        EXPECT_NO_THROW((void)accounting_reply(report)) << report.dump();
    }
}

}  // namespace
}  // namespace mvmm::guest_services
