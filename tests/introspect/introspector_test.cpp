// The live introspector over an Engine: pauses around the walk (or marks a
// live walk), reports host and KVM sections, classifies dirty pages, saves
// images that analyse the same as the live guest.
#include <string>

#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/introspect/image_metadata.hpp>
#include <mvmm/introspect/introspector.hpp>
#include <mvmm/introspect/synthetic_kernel.hpp>

#include "introspect/fake_engine.hpp"
#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

using test::FakeEngine;
using test::FakeKvm;

constexpr std::uint64_t kRegion = 0x0000'7f00'0000'0000ULL;

struct LiveGuest {
    LiveGuest() : mem(64 * kMiB), kernel(mem) {
        data = mem.alloc(512);
        host = kernel.new_root();
        mem.map(host, kRegion, data, 2 * kMiB);
        pud = mem.table_for(host, kRegion, 3);
        for (int i = 0; i < 2; ++i) {
            const auto root = kernel.new_root();
            mem.set_entry(root, walker::table_index(kRegion, 4), pud | walker::kTableFlags);
            kernel.add_process(20 + i, "sharer", root);
            roots.push_back(root);
        }
        kernel.set_share_count(pud, 2);
    }
    walker::SyntheticMemory mem;
    SyntheticKernel kernel;
    std::uint64_t data = 0;
    std::uint64_t host = 0;
    std::uint64_t pud = 0;
    std::vector<std::uint64_t> roots;
};

TEST(Introspector, PausesAroundTheWalkAndReportsHowLong) {
    LiveGuest s;
    FakeEngine engine(s.mem.view(), s.kernel.registers());
    Introspector intro(engine, s.kernel.profile());
    const auto check = intro.attach();
    EXPECT_TRUE(check.build_id_checked);
    EXPECT_EQ(engine.pauses, 1);
    EXPECT_EQ(engine.resumes, 1);

    engine.memory_reads_while_running = 0;
    const auto j = intro.report({});
    EXPECT_EQ(engine.pauses, 2);
    EXPECT_EQ(engine.resumes, 2);
    EXPECT_EQ(engine.memory_reads_while_running, 1);  // only the host section, after resuming
    EXPECT_EQ(engine.state(), RunState::running);
    EXPECT_EQ(j["source"]["consistency"], "paused");
    EXPECT_GE(j["source"]["pause_seconds"].get<double>(), 0.0);
    EXPECT_EQ(j["source"]["engine"], "qemu");
    EXPECT_EQ(j["mshare"]["shared_puds"][0]["status"], "consistent");
    EXPECT_EQ(j["kvm"]["absent_reason"], "the QEMU engine runs TCG; KVM statistics do not exist");
    // vCPU 1 failed: the report says so and uses vCPU 0.
    bool noted = false;
    for (const auto& n : j["notes"]) {
        noted = noted || n.get<std::string>().find("vCPU 1 registers") != std::string::npos;
    }
    EXPECT_TRUE(noted);
    // Host side: the synthetic RAM is an anonymous mapping we touched.
    EXPECT_GT(j["host"]["guest_ram_resident_bytes"].get<std::uint64_t>(), 0U);
    EXPECT_EQ(j["host"]["guest_ram_bytes"], 64 * kMiB);
    EXPECT_GT(j["host"]["vmm_vm_pte_bytes"].get<std::uint64_t>(), 0U);
}

TEST(Introspector, LiveWalksDoNotPauseAndSaySo) {
    LiveGuest s;
    FakeEngine engine(s.mem.view(), s.kernel.registers());
    Introspector intro(engine, std::nullopt);
    ReportRequest req;
    req.live = true;
    const auto j = intro.report(req);
    EXPECT_EQ(engine.pauses, 0);
    EXPECT_EQ(j["source"]["consistency"], "live");
    EXPECT_TRUE(j["source"]["pause_seconds"].is_null());
    EXPECT_EQ(j["roots"]["source"], "scan");

    // A guest that is already paused stays paused.
    engine.state_ = RunState::paused;
    const auto k = intro.report({});
    EXPECT_EQ(engine.resumes, 0);
    EXPECT_EQ(engine.state(), RunState::paused);
    EXPECT_EQ(k["source"]["consistency"], "already-paused");
}

TEST(Introspector, KvmStatisticsAndDirtyPagesClassified) {
    LiveGuest s;
    FakeEngine engine(s.mem.view(), s.kernel.registers());
    FakeKvm kvm;
    engine.kvm_ = &kvm;
    Introspector intro(engine, s.kernel.profile());
    GuestFigures guest;
    guest.page_tables_bytes = 123 * 4096;
    ReportRequest req;
    req.guest = guest;
    const auto j = intro.report(req);
    EXPECT_EQ(j["kvm"]["second_level"]["pages_4k"], 1000);
    EXPECT_EQ(j["kvm"]["second_level"]["pages_2m"], 3);
    EXPECT_EQ(j["kvm"]["second_level"]["implied_table_bytes"], implied_table_bytes(1000, 3, 0));
    EXPECT_EQ(j["kvm"]["statistics"]["vm"].size(), 3U);
    EXPECT_EQ(j["totals"]["guest_page_tables_bytes"], 123 * 4096);

    EXPECT_THROW((void)intro.dirty_report(), Error);  // no mark yet
    intro.dirty_mark();
    EXPECT_EQ(kvm.marks, 1);
    const auto pte = s.mem.get_entry(s.mem.get_entry(s.pud, 0) & walker::entry::kAddressMask, 0) &
                     walker::entry::kAddressMask;
    kvm.dirty = {s.pud / 4096, pte / 4096, s.data / 4096 + 7, s.roots[0] / 4096,
                 (s.data + 4 * kMiB) / 4096};
    const auto d = intro.dirty_report();
    EXPECT_EQ(d["pages"], 5);
    EXPECT_EQ(d["pfns"].size(), 5U);
    EXPECT_EQ(d["page_table"]["pud"], 1);
    EXPECT_EQ(d["page_table"]["pte"], 1);
    EXPECT_EQ(d["page_table"]["pgd"], 1);
    EXPECT_EQ(d["page_table"]["total"], 3);
    EXPECT_EQ(d["user_data"], 1);
    EXPECT_EQ(d["other"], 1);
}

TEST(Introspector, DirtyLogWithoutKvmSaysWhy) {
    LiveGuest s;
    FakeEngine engine(s.mem.view(), s.kernel.registers());
    Introspector intro(engine, std::nullopt);
    try {
        intro.dirty_mark();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not available with the qemu engine"),
                  std::string::npos);
    }
    EXPECT_TRUE(intro.dirty_report().contains("absent_reason"));
}

TEST(Introspector, ASavedImageAnalysesLikeTheLiveGuest) {
    LiveGuest s;
    const test::TempDir dir;
    FakeEngine engine(s.mem.view(), s.kernel.registers());
    Introspector intro(engine, s.kernel.profile());
    GuestFigures guest;
    guest.page_tables_bytes = 42 * 4096;
    const auto path = dir.path() / "guest.img";
    intro.save_image(path, &guest);
    EXPECT_EQ(engine.pauses, 1);
    EXPECT_EQ(engine.resumes, 1);

    const MemoryImage image(path);
    const auto meta = ImageMetadata::parse(image.metadata(), path.string());
    EXPECT_EQ(meta.engine, "qemu");
    EXPECT_TRUE(meta.paused);
    ASSERT_EQ(meta.vcpus.size(), 1U);
    EXPECT_EQ(meta.vcpus[0].cr3, s.kernel.kernel_root());
    ASSERT_TRUE(meta.guest.has_value());
    EXPECT_EQ(meta.guest->page_tables_bytes, 42U * 4096);

    const auto profile = s.kernel.profile();
    AnalysisInput in;
    in.memory = &image.view();
    in.vcpus = meta.vcpus;
    in.profile = &profile;
    const auto offline = accounting_json(analyze(in), &*meta.guest);
    const auto live = intro.report({});
    EXPECT_EQ(offline["totals"]["unique_table_bytes"], live["totals"]["unique_table_bytes"]);
    EXPECT_EQ(offline["mshare"]["shared_puds"][0]["sharers"],
              live["mshare"]["shared_puds"][0]["sharers"]);
    EXPECT_EQ(offline["totals"]["guest_page_tables_bytes"], 42 * 4096);
}

}  // namespace
}  // namespace mvmm
