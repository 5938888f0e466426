// `mshare-vmm run`: exit statuses, stop options and signals, with the real binary.
#include <chrono>
#include <string>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/unique_fd.hpp>
#include <mvmm/qemu/child_process.hpp>

#include "qemu/guest_artifacts.hpp"
#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

using namespace std::chrono_literals;

const std::string kVmm = std::string(MVMM_BINARY_DIR) + "/vmm/app/mshare-vmm";

struct RunResult {
    int status = -1;  // exit status, or 128 + signal
    std::string stderr_text;
};

// Runs mshare-vmm with `args`. `on_line` sees each stderr line as it comes and
// may signal the process through `child`.
RunResult run_vmm(const std::vector<std::string>& args,
                  const std::function<void(const std::string&, ChildProcess&)>& on_line = {}) {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    std::vector<std::string> argv = {kVmm};
    argv.insert(argv.end(), args.begin(), args.end());
    ChildProcess child({.argv = argv, .inherit_fds = {}, .stderr_fd = write_end.get()});
    write_end.reset();
    RunResult result;
    std::string partial;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(read_end.get(), buffer, sizeof buffer)) > 0) {
        result.stderr_text.append(buffer, static_cast<std::size_t>(n));
        partial.append(buffer, static_cast<std::size_t>(n));
        std::size_t nl = 0;
        while ((nl = partial.find('\n')) != std::string::npos) {
            if (on_line) {
                on_line(partial.substr(0, nl), child);
            }
            partial.erase(0, nl + 1);
        }
    }
    const int status = child.wait();
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

std::string config_json(const test::GuestArtifacts& a, bool with_initramfs,
                        const std::string& extra = "") {
    std::string json = R"({"name": "run-test", "engine": "qemu", "memory_mib": 256, "kernel": ")" +
                       a.kernel.string() + "\"";
    if (with_initramfs) {
        json += R"(, "initramfs": ")" + a.initramfs.string() + "\"";
    }
    return json + extra + "}";
}

TEST(RunCommand, ConfigErrorsExitWithStatus2) {
    test::TempDir dir;
    const auto bad = dir.write("vm.json", R"({"kernel": "bzImage", "colour": "blue"})");
    auto r = run_vmm({"run", "--config", bad.string()});
    EXPECT_EQ(r.status, 2) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "config error")) << r.stderr_text;

    r = run_vmm({"run", "--config", (dir.path() / "missing.json").string()});
    EXPECT_EQ(r.status, 2) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "missing.json")) << r.stderr_text;
}

TEST(RunCommand, EngineFailureExitsWithStatus4) {
    test::TempDir dir;
    dir.write("garbage", std::string(4096, 'x'));
    const auto config = dir.write("vm.json", R"({"kernel": "garbage", "engine": "qemu"})");
    const auto r = run_vmm({"run", "--config", config.string()});
    EXPECT_EQ(r.status, 4) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "engine failure")) << r.stderr_text;
}

TEST(RunCommand, StopAfterBootExitsCleanly) {
    std::string why_not;
    const auto a = test::find_guest_artifacts(why_not);
    if (!a) {
        GTEST_SKIP() << why_not;
    }
    test::TempDir dir;
    const auto config = dir.write("vm.json", config_json(*a, true));
    const auto r = run_vmm({"run", "--config", config.string(), "--stop-after-boot"});
    EXPECT_EQ(r.status, 0) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "boot complete after")) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "engine 'qemu' in the config")) << r.stderr_text;
}

TEST(RunCommand, SigtermStopsTheVmCleanly) {
    std::string why_not;
    const auto a = test::find_guest_artifacts(why_not);
    if (!a) {
        GTEST_SKIP() << why_not;
    }
    test::TempDir dir;
    const auto config = dir.write("vm.json", config_json(*a, true));
    bool sent = false;
    const auto r = run_vmm({"run", "--config", config.string(), "--stop-after", "600"},
                           [&](const std::string& line, ChildProcess& child) {
                               if (!sent && contains(line, "boot complete after")) {
                                   child.signal(SIGTERM);
                                   sent = true;
                               }
                           });
    EXPECT_TRUE(sent) << r.stderr_text;
    EXPECT_EQ(r.status, 0) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "received SIGTERM")) << r.stderr_text;
}

TEST(RunCommand, GuestPanicExitsWithStatus3) {
    std::string why_not;
    const auto a = test::find_guest_artifacts(why_not, /*need_initramfs=*/false);
    if (!a) {
        GTEST_SKIP() << why_not;
    }
    test::TempDir dir;
    const auto config = dir.write("vm.json", config_json(*a, false));
    const auto r = run_vmm({"run", "--config", config.string(), "--stop-after", "600"});
    EXPECT_EQ(r.status, 3) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "guest panic")) << r.stderr_text;
}

TEST(RunCommand, BootTimeoutExitsWithStatus5) {
    std::string why_not;
    const auto a = test::find_guest_artifacts(why_not);
    if (!a) {
        GTEST_SKIP() << why_not;
    }
    test::TempDir dir;
    const auto config = dir.write("vm.json", config_json(*a, true));
    // No Linux boots to /init in 50 ms, least of all under TCG.
    const auto r = run_vmm({"run", "--config", config.string(), "--boot-timeout", "0.05"});
    EXPECT_EQ(r.status, 5) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "did not mark boot complete")) << r.stderr_text;
}

}  // namespace
}  // namespace mvmm
