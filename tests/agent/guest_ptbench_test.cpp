// ptbench in a booted guest, mshare against the shmem baseline: the region's
// page tables exist once instead of once per process, and the processes take
// far fewer faults; and mshare-demo. Label guest. mshare needs the project's
// patched kernel.
#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include "guest_vm.hpp"

namespace mvmm::test {
namespace {

using nlohmann::json;

constexpr int kProcesses = 8;

json run_ptbench(GuestVm& vm, const std::string& mode) {
    const auto r = vm.agent().exec(
        {.path = "ptbench",
         .args = {"--mode", mode, "--processes", std::to_string(kProcesses), "--size", "32M", "-q"},
         .timeout = 600});
    EXPECT_TRUE(r.success()) << mode << ": " << r.describe() << "\n" << r.err << r.out;
    auto report = json::parse(r.out, nullptr, false);
    EXPECT_FALSE(report.is_discarded()) << r.out;
    return report;
}

// Why the mshare tests cannot run in this guest, or "" if they can.
std::string no_msharefs(GuestVm& vm) {
    const auto info = vm.agent().execute("guest-info");
    if (info["msharefs"]["mounted"].get<bool>()) {
        return "";
    }
    return "the guest kernel " + info["kernel-release"].get<std::string>() +
           " has no msharefs on /sys/fs/mshare (not the patched kernel? build it with "
           "guest-kernel-patch/build.sh, or point MVMM_TEST_KERNEL at it)";
}

double figure(const json& report, const char* name) {
    return report["summary"][name].get<double>();
}

TEST(GuestPtbench, ShmemBaselineCostsEveryProcessItsOwnPageTables) {
    std::string why;
    if (!GuestVm::find_kernel(why)) {
        GTEST_SKIP() << why;
    }
    GuestVm vm(GuestVm::Options{.memory_mib = 768, .cmdline_extra = ""});
    const auto shmem = run_ptbench(vm, "shmem");
    ASSERT_EQ(shmem["outcome"], "ok");
    // Each process maps 32 MiB with its own PTE tables (64 KiB) and faults
    // each of the 8192 pages it writes.
    EXPECT_GE(figure(shmem, "page_tables_touch_delta"), kProcesses * 64.0 * 1024 * 0.9);
    EXPECT_GE(figure(shmem, "region_vm_pte_per_process"), 64.0 * 1024);
    EXPECT_GE(figure(shmem, "minflt_touch_per_process"), 8192);
}

TEST(GuestPtbench, MshareHasAboutNTimesFewerPageTablesAndFarFewerFaults) {
    std::string why;
    if (!GuestVm::find_kernel(why)) {
        GTEST_SKIP() << why;
    }
    GuestVm vm(GuestVm::Options{.memory_mib = 768, .cmdline_extra = ""});
    if (const auto why_not = no_msharefs(vm); !why_not.empty()) {
        GTEST_SKIP() << why_not;
    }
    const auto shmem = run_ptbench(vm, "shmem");
    const auto mshare = run_ptbench(vm, "mshare");
    ASSERT_EQ(shmem["outcome"], "ok");
    ASSERT_EQ(mshare["outcome"], "ok");

    const double shmem_pt = figure(shmem, "page_tables_touch_delta");
    const double mshare_pt = figure(mshare, "page_tables_touch_delta");
    const double shmem_flt = figure(shmem, "minflt_touch_per_process");
    const double mshare_flt = figure(mshare, "minflt_touch_per_process");
    std::cout << "page tables made by the touch (" << kProcesses << " x 32 MiB): shmem " << shmem_pt
              << " B, mshare " << mshare_pt << " B\n"
              << "minor faults per process: shmem " << shmem_flt << ", mshare " << mshare_flt
              << "\n";
    // One set of the region's page tables for everyone: about N times less.
    EXPECT_GT(mshare_pt, 0);
    EXPECT_GE(shmem_pt / mshare_pt, kProcesses / 2.0);
    EXPECT_GE(shmem_flt / std::max(mshare_flt, 1.0), kProcesses / 2.0);
}

TEST(GuestMshareDemo, DonorAndConsumerSeeEachOthersWrites) {
    std::string why;
    if (!GuestVm::find_kernel(why)) {
        GTEST_SKIP() << why;
    }
    GuestVm vm(GuestVm::Options{.memory_mib = 512, .cmdline_extra = ""});
    if (const auto why_not = no_msharefs(vm); !why_not.empty()) {
        GTEST_SKIP() << why_not;
    }
    const auto r = vm.agent().exec({.path = "mshare-demo", .args = {"pair"}, .timeout = 120});
    EXPECT_TRUE(r.success()) << r.describe() << "\n" << r.out << r.err;
    EXPECT_NE(r.out.find("read \"Some random shared text\""), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("answered \"consumer read: Some random shared text\""), std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("pair: ok"), std::string::npos) << r.out;
    // The region is gone afterwards.
    const auto ls = vm.agent().exec({.path = "ls", .args = {"/sys/fs/mshare"}});
    EXPECT_EQ(ls.out, "mshare_info\n");
}

}  // namespace
}  // namespace mvmm::test
