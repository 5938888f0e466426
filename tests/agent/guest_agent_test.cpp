// The agent in a booted guest: boot marker, exec round trips, the guest's
// figures. Label guest: boots Linux with `mshare-vmm run` (QEMU engine here).
#include <chrono>
#include <memory>

#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>

#include "guest_vm.hpp"

namespace mvmm::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

class GuestAgent : public ::testing::Test {
  protected:
    // One guest for the whole suite: booting takes a while under TCG.
    static void SetUpTestSuite() {
        std::string why;
        if (!GuestVm::find_kernel(why)) {
            skip_ = why;
            return;
        }
        try {
            vm_ = std::make_unique<GuestVm>(
                GuestVm::Options{.memory_mib = 512, .cmdline_extra = "mvmm.hugepages=4"});
        } catch (const Error& e) {
            boot_error_ = e.what();
        }
    }
    static void TearDownTestSuite() { vm_.reset(); }
    void SetUp() override {
        if (!skip_.empty()) {
            GTEST_SKIP() << skip_;
        }
        ASSERT_TRUE(vm_) << "the guest did not boot: " << boot_error_;
    }
    static inline std::unique_ptr<GuestVm> vm_;
    static inline std::string skip_;
    static inline std::string boot_error_;
};

TEST_F(GuestAgent, InitMountedEverythingAndSetHugePages) {
    const auto console = vm_->console();
    EXPECT_NE(console.find("init: boot complete"), std::string::npos) << console;
    EXPECT_NE(console.find("init: vm.nr_hugepages=4"), std::string::npos) << console;
    const auto info = vm_->agent().execute("guest-info");
    EXPECT_EQ(info["nr-hugepages"], 4);
    const auto mounts = vm_->agent().read_file("/proc/mounts");
    for (const char* fs : {" /proc proc", " /sys sysfs", " /dev devtmpfs", " /dev/shm tmpfs",
                           " /dev/hugepages hugetlbfs"}) {
        EXPECT_NE(mounts.find(fs), std::string::npos) << fs << "\n" << mounts;
    }
    // msharefs is mounted exactly when the kernel has it.
    EXPECT_EQ(info["msharefs"]["mounted"].get<bool>(),
              mounts.find(" /sys/fs/mshare msharefs") != std::string::npos);
}

TEST_F(GuestAgent, BootCompleteMarkerReachesTheVmm) {
    // /init's marker byte on port 0xe9 becomes the VMM's boot-complete event,
    // which `mshare-vmm run` logs.
    const auto log = vm_->vmm_log();
    const auto console = vm_->console();
    if (log.find("boot complete after") == std::string::npos &&
        console.find("needs CONFIG_X86_IOPL_IOPERM") != std::string::npos) {
        GTEST_SKIP() << "this kernel cannot write I/O ports from user space (no "
                        "CONFIG_X86_IOPL_IOPERM or CONFIG_DEVPORT), so no boot marker";
    }
    EXPECT_NE(log.find("boot complete after"), std::string::npos) << vm_->diagnostics();
    EXPECT_FALSE(vm_->vmm_ended()) << vm_->diagnostics();
}

TEST_F(GuestAgent, ExecRoundTrips) {
    auto& agent = vm_->agent();
    const auto info = agent.execute("guest-info");
    const auto uname = agent.exec({.path = "uname", .args = {"-r"}});
    ASSERT_TRUE(uname.success()) << uname.describe() << uname.err;
    EXPECT_EQ(uname.out, info["kernel-release"].get<std::string>() + "\n");

    const auto r = agent.exec({.path = "/bin/sh",
                               .args = {"-c", "tr a-z A-Z; echo oops >&2; exit 7"},
                               .input = std::string("hello guest\n")});
    EXPECT_EQ(r.exit_code, 7);
    EXPECT_EQ(r.out, "HELLO GUEST\n");
    EXPECT_EQ(r.err, "oops\n");

    const auto hung = agent.exec({.path = "sleep", .args = {"1000"}, .timeout = 1});
    EXPECT_TRUE(hung.timed_out);
    EXPECT_EQ(hung.signal, 9);

    EXPECT_THROW(agent.exec({.path = "/bin/does-not-exist"}), agent::AgentError);
}

TEST_F(GuestAgent, MeminfoAndProcesses) {
    auto& agent = vm_->agent();
    const auto mem = agent.execute("guest-meminfo");
    EXPECT_GT(mem["MemTotal"].get<std::uint64_t>(), 256u << 20);
    EXPECT_GT(mem["PageTables"].get<std::uint64_t>(), 0u);
    const auto procs = agent.execute("guest-processes")["processes"];
    bool init = false, agent_seen = false;
    for (const auto& p : procs) {
        if (p["pid"] == 1) {
            init = true;
            EXPECT_GT(p["vm-pte"].get<std::uint64_t>(), 0u);
        }
        agent_seen = agent_seen || p["comm"] == "mvmm-agent";
    }
    EXPECT_TRUE(init);
    EXPECT_TRUE(agent_seen);
}

TEST_F(GuestAgent, BadInputDoesNotStopTheAgent) {
    auto& agent = vm_->agent();
    EXPECT_THROW(agent.execute("guest-nonsense"), agent::AgentError);
    EXPECT_THROW(agent.execute("guest-exec", json{{"path", 42}}), agent::AgentError);
    EXPECT_EQ(agent.execute("guest-ping"), json::object());
}

}  // namespace
}  // namespace mvmm::test
