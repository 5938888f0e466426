// The control socket of a real VM: `mshare-vmm run` boots a guest (QEMU
// engine here) and the test drives it through the socket, with QmpClient and
// with `mshare-vmm ctl`. Skipped without the guest kernel and initramfs.
#include <fstream>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/control/client.hpp>
#include <mvmm/protocol/error_class.hpp>
#include <mvmm/qemu/child_process.hpp>

#include "control/support/run_process.hpp"
#include "qemu/guest_artifacts.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const std::string kVmm = std::string(MVMM_BINARY_DIR) + "/vmm/app/mshare-vmm";

std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

TEST(GuestControl, EveryEngineCommandThroughTheSocket) {
    std::string why_not;
    const auto artifacts = mvmm::test::find_guest_artifacts(why_not);
    if (!artifacts) {
        GTEST_SKIP() << why_not;
    }
    mvmm::test::TempDir dir;
    const auto socket = dir.path() / "control.sock";
    const auto config = dir.write("vm.json", json{{"name", "control-test"},
                                                  {"engine", "qemu"},
                                                  {"memory_mib", 256},
                                                  {"kernel", artifacts->kernel.string()},
                                                  {"initramfs", artifacts->initramfs.string()},
                                                  {"control_socket", socket.string()}}
                                                 .dump());
    const auto log_path = dir.path() / "vmm.log";
    UniqueFd log_fd(::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    const std::vector<std::string> argv = {kVmm,           "run", "--config", config.string(),
                                           "--stop-after", "600"};
    ChildProcess vmm(ChildSpec{.argv = argv, .inherit_fds = {}, .stderr_fd = log_fd.get()});

    // The socket is there before the engine starts.
    std::unique_ptr<QmpClient> client;
    for (int i = 0; i < 6000 && !client; ++i) {
        if (vmm.try_wait()) {
            FAIL() << "mshare-vmm run ended early:\n" << read_file(log_path);
        }
        try {
            client = std::make_unique<QmpClient>(socket);
        } catch (const Error&) {
            std::this_thread::sleep_for(10ms);
        }
    }
    ASSERT_TRUE(client) << "no control socket:\n" << read_file(log_path);

    // Boot complete arrives as an event (unless it came before we connected).
    bool booted = false;
    for (int i = 0; i < 240 && !booted; ++i) {
        if (auto event = client->next_event(500ms)) {
            booted = (*event)["event"] == "MSHARE_BOOT_COMPLETE";
            if (booted) {
                EXPECT_GT((*event)["data"]["seconds"].get<double>(), 0.0);
            }
        } else {
            const auto lines = client->execute("mshare-query-console", {{"lines", 10000}});
            booted = lines.dump().find("init:") != std::string::npos &&
                     client->execute("query-status")["status"] == "running";
        }
    }
    ASSERT_TRUE(booted) << read_file(log_path);

    auto status = client->execute("query-status");
    EXPECT_EQ(status["status"], "running");
    EXPECT_EQ(status["running"], true);
    EXPECT_EQ(status["mshare-engine"], "qemu");
    const auto engine = client->execute("mshare-query-engine");
    EXPECT_EQ(engine["engine"], "qemu");
    EXPECT_FALSE(engine["reason"].get<std::string>().empty());
    EXPECT_EQ(engine["vcpus"], 1);

    const auto console = client->execute("mshare-query-console", {{"lines", 10000}});
    EXPECT_GT(console["bytes-total"].get<std::uint64_t>(), 0U);
    EXPECT_NE(console["lines"].dump().find("init:"), std::string::npos) << console.dump();

    client->execute("stop");
    auto event = client->next_event(30s);
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["event"], "STOP");
    EXPECT_EQ(client->execute("query-status")["status"], "paused");
    client->execute("cont");
    event = client->next_event(30s);
    ASSERT_TRUE(event);
    EXPECT_EQ((*event)["event"], "RESUME");
    EXPECT_EQ(client->execute("query-status")["status"], "running");

    try {
        client->execute("mshare-query-kvm-stats");
        ADD_FAILURE() << "KVM statistics on the QEMU engine";
    } catch (const protocol::CommandError& e) {
        EXPECT_EQ(e.error_class(), protocol::ErrorClass::kvm_missing_cap);
    }

    // The command-line client against the same VM.
    const auto ctl =
        test::run_process(kVmm + " ctl --socket '" + socket.string() + "' status", dir.path());
    EXPECT_EQ(ctl.status, 0) << ctl.err;
    EXPECT_NE(ctl.out.find("engine  qemu"), std::string::npos) << ctl.out;

    EXPECT_EQ(client->execute("quit"), json::object());
    const int wait_status = vmm.wait();
    EXPECT_TRUE(WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0)
        << describe_wait_status(wait_status) << "\n"
        << read_file(log_path);
    EXPECT_FALSE(std::filesystem::exists(socket));
}

}  // namespace
}  // namespace mvmm::control
