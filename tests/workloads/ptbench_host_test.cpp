// ptbench run on the host, where shmem and sysv work like in the guest.
// (mshare needs the guest kernel: tests/agent/guest_*_test.cpp.)
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>

namespace {

using nlohmann::json;

struct Run {
    int status = -1;
    std::string out;
    json report;
};

Run ptbench(const std::string& args) {
    Run r;
    const std::string cmd = std::string(MVMM_PTBENCH) + " " + args + " 2>/dev/null";
    FILE* p = ::popen(cmd.c_str(), "r");
    if (p == nullptr) {
        ADD_FAILURE() << "popen " << cmd;
        return r;
    }
    std::array<char, 65536> buf{};
    std::size_t n = 0;
    while ((n = std::fread(buf.data(), 1, buf.size(), p)) > 0) {
        r.out.append(buf.data(), n);
    }
    const int st = ::pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    r.report = json::parse(r.out, nullptr, false);
    return r;
}

const json& phase(const json& report, const std::string& name, int round = 0) {
    for (const auto& p : report["phases"]) {
        if (p["name"] == name && p["round"] == round) {
            return p;
        }
    }
    static const json none;
    ADD_FAILURE() << "no phase " << name << " round " << round;
    return none;
}

TEST(PtbenchHost, ShmemWriteTouchCostsOnePteAndOneFaultPerPage) {
    const auto r = ptbench("--mode shmem --processes 4 --size 8M -q");
    ASSERT_EQ(r.status, 0) << r.out;
    ASSERT_FALSE(r.report.is_discarded()) << r.out;
    EXPECT_EQ(r.report["outcome"], "ok");
    EXPECT_EQ(r.report["config"]["touched_bytes"], 8 << 20);
    const auto& touch = phase(r.report, "touch");
    EXPECT_EQ(touch["done"], 4);
    // 2048 pages written: one fault each, and one 4 KiB PTE table per 2 MiB
    // (4 tables, or 5 when the mapping straddles a 2 MiB boundary).
    EXPECT_EQ(touch["minflt"]["min"], 2048);
    const double region_pte = r.report["summary"]["region_vm_pte_per_process"];
    EXPECT_GE(region_pte, 16384);
    EXPECT_LE(region_pte, 20480);
    ASSERT_EQ(touch["per_process"]["vm_pte_bytes"].size(), 4u);
    // Detach gives the tables back.
    const auto& spawn = phase(r.report, "spawn");
    const auto& detach = phase(r.report, "detach");
    EXPECT_EQ(detach["vm_pte_bytes"]["max"], spawn["vm_pte_bytes"]["max"]);
    EXPECT_EQ(r.report["deaths"]["count"], 0);
    EXPECT_EQ(r.report["errors"]["count"], 0);
}

TEST(PtbenchHost, EveryModeAndOptionOnTheHostCompletes) {
    for (const char* args : {"--mode sysv --processes 3 --size 4M --access read --order random",
                             "--mode shmem --backing tmpfs --processes 3 --size 1M --rounds 3 "
                             "--stagger-us 100 --jitter-us 500",
                             "--mode shmem --processes 2 --size 4M --order random --hold 0.1"}) {
        const auto r = ptbench(std::string(args) + " -q");
        EXPECT_EQ(r.status, 0) << args << "\n" << r.out;
        EXPECT_EQ(r.report.value("outcome", ""), "ok") << args;
    }
    const auto churn = ptbench("--mode shmem --processes 2 --size 1M --rounds 3 -q");
    int attaches = 0, holds = 0;
    for (const auto& p : churn.report["phases"]) {
        attaches += p["name"] == "attach";
        holds += p["name"] == "hold";
    }
    EXPECT_EQ(attaches, 3);
    EXPECT_EQ(holds, 1);  // only after the last round
}

TEST(PtbenchHost, ProcessesThatExitRightAfterTheirLastReportAreNotDeaths) {
    // Many short-lived processes: some exit before the parent has read their
    // last record. That is a normal end, not a death. (A parent that took
    // such an exit for a death did so in about a third of these runs.)
    for (int i = 0; i < 5; ++i) {
        const auto r = ptbench("--mode shmem --processes 300 --size 64K --rounds 2 -q");
        ASSERT_EQ(r.status, 0) << r.out;
        EXPECT_EQ(r.report["deaths"]["count"], 0);
        EXPECT_EQ(phase(r.report, "detach", 1)["done"], 300);
    }
}

TEST(PtbenchHost, RandomOrderTouchesEveryPageOnce) {
    // Write access faults each page exactly once, in any order.
    const auto r = ptbench("--mode shmem --processes 1 --size 3M --order random --seed 7 -q");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(phase(r.report, "touch")["minflt"]["sum"], 768);
}

TEST(PtbenchHost, DyingProcessesAreCountedWithTheirSignalNotWaitedFor) {
    const auto r = ptbench("--mode shmem --processes 6 --size 2M --die-in touch:2 -q");
    EXPECT_EQ(r.status, 1);
    ASSERT_FALSE(r.report.is_discarded()) << r.out;
    EXPECT_EQ(r.report["outcome"], "processes-died");
    const auto& deaths = r.report["deaths"];
    EXPECT_EQ(deaths["count"], 2);
    EXPECT_EQ(deaths["by_signal"]["SIGKILL"], 2);
    EXPECT_EQ(deaths["by_phase"]["touch"], 2);
    EXPECT_EQ(deaths["first"][0]["index"], 0);
    EXPECT_EQ(phase(r.report, "touch")["done"], 4);
    EXPECT_EQ(phase(r.report, "touch")["died"], 2);
    EXPECT_EQ(phase(r.report, "detach")["done"], 4);
    EXPECT_TRUE(phase(r.report, "touch")["per_process"]["vm_pte_bytes"][0].is_null());
}

TEST(PtbenchHost, SetupFailureIsReportedAsSuch) {
    // No msharefs on the host: the report says why, with exit status 3.
    const auto r = ptbench("--mode mshare --processes 2 --size 1M -q");
    if (r.status == 0) {
        GTEST_SKIP() << "this host has msharefs mounted";
    }
    EXPECT_EQ(r.status, 3);
    EXPECT_EQ(r.report["outcome"], "setup-failed");
    EXPECT_NE(r.report["setup_error"].get<std::string>().find("/sys/fs/mshare/mshare_info"),
              std::string::npos);
}

TEST(PtbenchHost, BadOptionsAreUsageErrors) {
    for (const char* args : {"", "--mode nope", "--mode shmem --size 12X", "--mode shmem -n 0",
                             "--mode shmem --die-in sleep:1", "--mode shmem extra"}) {
        const auto r = ptbench(args);
        EXPECT_EQ(r.status, 2) << args;
        EXPECT_TRUE(r.out.empty()) << args;
    }
}

}  // namespace
