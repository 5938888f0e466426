// The introspection and guest agent commands of a running VM, end to end:
// `mshare-vmm run` boots the default config (configs/default.json, the
// engine `auto` picks), ptbench runs in the guest through mshare-guest-exec,
// and the control socket's walk, accounting and sharing replies are checked
// against the guest's own /proc figures. One boot serves every test. Label
// guest; skipped without the guest kernel, its profile or the initramfs.
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <thread>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/client.hpp>
#include <mvmm/protocol/error_class.hpp>
#include <mvmm/qemu/child_process.hpp>

#include "control/support/run_process.hpp"
#include "qemu/guest_artifacts.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::guest_services {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

const std::string kVmm = std::string(MVMM_BINARY_DIR) + "/vmm/app/mshare-vmm";
constexpr int kSharers = 4;
constexpr std::uint64_t kRegionBytes = 8 * 1024 * 1024;
// Failure bounds, not timing assertions: a guest under TCG on a busy host is slow.
constexpr auto kBootLimit = std::chrono::seconds(900);
constexpr std::uint64_t kPage = 4096;

std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

std::filesystem::path profile_for(const std::filesystem::path& kernel) {
    if (const char* p = std::getenv("MVMM_TEST_PROFILE"); p != nullptr && *p != '\0') {
        return p;
    }
    return kernel.parent_path() / "profile.json";
}

// One VM for the whole suite.
class Vm {
  public:
    Vm(const test::GuestArtifacts& artifacts, const std::filesystem::path& profile) {
        socket_ = dir_.path() / "control.sock";
        // The default config, with this build's guest and a socket of our own.
        auto config =
            json::parse(slurp(std::filesystem::path(MVMM_SOURCE_DIR) / "configs" / "default.json"));
        config["name"] = "introspection-test";
        config["kernel"] = artifacts.kernel.string();
        config["initramfs"] = artifacts.initramfs.string();
        config["profile"] = profile.string();
        config["control_socket"] = socket_.string();
        config["console_log"] = (dir_.path() / "console.log").string();
        const auto file = dir_.write("vm.json", config.dump(2));
        log_ = dir_.path() / "vmm.log";
        const UniqueFd log_fd(::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
        vmm_ = std::make_unique<ChildProcess>(
            ChildSpec{.argv = {kVmm, "run", "--config", file.string(), "--stop-after", "3000"},
                      .inherit_fds = {},
                      .stderr_fd = log_fd.get()});
        for (int i = 0; i < 6000 && !client_; ++i) {
            if (vmm_->try_wait()) {
                throw Error("mshare-vmm run ended early:\n" + diagnostics());
            }
            try {
                client_ = std::make_unique<control::QmpClient>(
                    socket_, control::QmpClient::Options{.timeout = 300s, .negotiate = true});
            } catch (const Error&) {
                std::this_thread::sleep_for(10ms);
            }
        }
        if (!client_) {
            throw Error("no control socket:\n" + diagnostics());
        }
        // The agent's arrival is an event; until then its commands answer
        // DeviceNotActive.
        const auto deadline = Clock::now() + kBootLimit;
        while (!agent_ready_seconds_) {
            if (Clock::now() > deadline || vmm_->try_wait()) {
                throw Error("no MSHARE_AGENT_READY event:\n" + diagnostics());
            }
            if (const auto event = client_->next_event(1s)) {
                if ((*event)["event"] == "MSHARE_AGENT_READY") {
                    agent_ready_seconds_ = (*event)["data"]["seconds"].get<double>();
                }
            }
        }
        engine_ = client_->execute("mshare-query-engine")["engine"].get<std::string>();
    }
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;
    ~Vm() {
        try {
            client_->execute("quit");
            (void)vmm_->wait();
        } catch (const std::exception&) {
            vmm_->signal(SIGKILL);
            (void)vmm_->wait();
        }
    }

    json execute(std::string_view command, const json& args = json::object()) {
        return client_->execute(command, args);
    }

    // Starts a program in the guest; returns its exec id.
    std::uint64_t start(const std::string& path, const std::vector<std::string>& args) {
        return execute("mshare-guest-exec",
                       {{"path", path}, {"args", args}, {"timeout", 1200}})["exec-id"]
            .get<std::uint64_t>();
    }
    // The exec's status once it has exited.
    json finish(std::uint64_t id) {
        for (int i = 0; i < 6000; ++i) {
            auto status = execute("mshare-guest-exec-status", {{"exec-id", id}});
            if (status["exited"].get<bool>()) {
                return status;
            }
            std::this_thread::sleep_for(200ms);
        }
        throw Error(cat("exec ", id, " did not end"));
    }
    // Runs a shell command in the guest and returns its stdout; fails the test
    // on a non-zero exit.
    std::string sh(const std::string& script) {
        const auto status = finish(start("/bin/sh", {"-c", script}));
        EXPECT_EQ(status.value("exit-code", -1), 0) << script << ": " << status.dump();
        return status.value("stdout", std::string());
    }

    // Starts ptbench holding a region of kRegionBytes in kSharers processes,
    // and waits until all of them hold it.
    std::uint64_t start_ptbench(const std::string& mode) {
        (void)sh("rm -f /tmp/ready /tmp/release");
        const auto id =
            start("/bin/ptbench",
                  {"--mode", mode, "--processes", std::to_string(kSharers), "--size", "8M",
                   "--ready-file", "/tmp/ready", "--release-file", "/tmp/release", "--quiet"});
        for (int i = 0; i < 3000; ++i) {
            if (execute("mshare-guest-exec-status", {{"exec-id", id}})["exited"].get<bool>()) {
                throw Error("ptbench " + mode +
                            " ended before holding its region: " + finish(id).dump());
            }
            if (sh("test -e /tmp/ready && echo yes || true") == "yes\n") {
                return id;
            }
            std::this_thread::sleep_for(200ms);
        }
        throw Error("ptbench " + mode + " did not hold its region in time");
    }
    json release_ptbench(std::uint64_t id) {
        (void)sh("touch /tmp/release");
        return finish(id);
    }

    // The guest's own figure for a /proc file's "Name:  N kB" line, in bytes.
    std::uint64_t proc_kb(const std::string& file, const std::string& name) {
        const auto out = sh("grep '^" + name + ":' " + file);
        std::istringstream line(out.substr(out.find(':') + 1));
        std::uint64_t kb = 0;
        line >> kb;
        return kb * 1024;
    }

    const std::filesystem::path& socket() const { return socket_; }
    const std::string& engine() const { return engine_; }
    [[nodiscard]] double agent_ready_seconds() const { return *agent_ready_seconds_; }
    [[nodiscard]] std::string diagnostics() const {
        const auto tail = [](const std::string& t) {
            return t.size() > 4000 ? "..." + t.substr(t.size() - 4000) : t;
        };
        return "--- VMM log:\n" + tail(slurp(log_)) + "\n--- console:\n" +
               tail(slurp(dir_.path() / "console.log"));
    }
    const std::filesystem::path& dir() const { return dir_.path(); }

  private:
    test::TempDir dir_;
    std::filesystem::path socket_;
    std::filesystem::path log_;
    std::unique_ptr<ChildProcess> vmm_;
    std::unique_ptr<control::QmpClient> client_;
    std::optional<double> agent_ready_seconds_;
    std::string engine_;
};

class GuestIntrospection : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        std::string why_not;
        auto artifacts = test::find_guest_artifacts(why_not, /*need_initramfs=*/false);
        if (!artifacts) {
            skip_reason_ = why_not;
            return;
        }
        // This build's initramfs, which holds this build's agent and ptbench.
        artifacts->initramfs =
            std::filesystem::path(MVMM_BINARY_DIR) / "guest" / "initramfs" / "initramfs.cpio";
        if (!std::filesystem::exists(artifacts->initramfs)) {
            skip_reason_ = "no initramfs at " + artifacts->initramfs.string() +
                           " (build the initramfs target)";
            return;
        }
        const auto profile = profile_for(artifacts->kernel);
        if (!std::filesystem::exists(profile)) {
            skip_reason_ = "no introspection profile at " + profile.string() +
                           " (the kernel build writes it; or set MVMM_TEST_PROFILE)";
            return;
        }
        vm_ = new Vm(*artifacts, profile);  // NOLINT(cppcoreguidelines-owning-memory)
    }
    static void TearDownTestSuite() {
        delete vm_;  // NOLINT(cppcoreguidelines-owning-memory)
        vm_ = nullptr;
    }
    void SetUp() override {
        if (vm_ == nullptr) {
            GTEST_SKIP() << skip_reason_;
        }
    }

    static Vm& vm() { return *vm_; }

    static inline Vm* vm_ = nullptr;
    static inline std::string skip_reason_;
};

std::set<std::int64_t> pids_named(const json& processes, const std::string& comm) {
    std::set<std::int64_t> out;
    for (const auto& p : processes) {
        if (p["comm"] == comm) {
            out.insert(p["pid"].get<std::int64_t>());
        }
    }
    return out;
}

TEST_F(GuestIntrospection, TheAgentAnswersThroughTheControlSocket) {
    EXPECT_GT(vm().agent_ready_seconds(), 0.0);
    const auto meminfo = vm().execute("mshare-query-guest-meminfo");
    EXPECT_GT(meminfo["MemTotal"].get<std::uint64_t>(), 0U);
    EXPECT_GT(meminfo["PageTables"].get<std::uint64_t>(), 0U);
    const auto status =
        vm().finish(vm().start("/bin/sh", {"-c", "echo out; echo err >&2; exit 5"}));
    EXPECT_EQ(status, json({{"exited", true},
                            {"exit-code", 5},
                            {"stdout", "out\n"},
                            {"stderr", "err\n"},
                            {"timed-out", false}}));
    // The command-line client runs a program and exits with its status.
    const auto ctl = control::test::run_process(kVmm + " ctl --socket '" + vm().socket().string() +
                                                    "' exec -- /bin/sh -c 'echo hi; exit 3'",
                                                vm().dir());
    EXPECT_EQ(ctl.status, 3) << ctl.err;
    EXPECT_EQ(ctl.out, "hi\n");
}

TEST_F(GuestIntrospection, WalkAndAccountingAgreeWithTheGuestsOwnFigures) {
    const auto bench = vm().start_ptbench("shmem");

    const auto processes = vm().execute("mshare-query-processes")["processes"];
    const auto workers = pids_named(processes, "ptbench");
    // The coordinator and its workers.
    ASSERT_GE(workers.size(), static_cast<std::size_t>(kSharers)) << processes.dump();
    EXPECT_EQ(pids_named(processes, "init").count(1), 1U) << processes.dump();

    // The guest's own PageTables, read by the agent (no helper process).
    const auto page_tables =
        vm().execute("mshare-query-guest-meminfo")["PageTables"].get<std::uint64_t>();
    const auto acc = vm().execute("mshare-query-accounting");
    EXPECT_EQ(acc["live"], false);
    EXPECT_GT(acc["pause-seconds"].get<double>(), 0.0);
    EXPECT_EQ(acc["anomalies"], 0) << acc.dump();
    EXPECT_EQ(acc.contains("kvm"), vm().engine() == "kvm") << acc.dump();
    EXPECT_EQ(acc.contains("kvm-absent"), vm().engine() != "kvm") << acc.dump();
    EXPECT_GT(acc["host"]["guest-ram-resident-bytes"].get<std::uint64_t>(), 0U);
    EXPECT_GT(acc["host"]["vmm-vm-pte-bytes"].get<std::uint64_t>(), 0U);
    // The guest's own view came through the agent, and took its time.
    EXPECT_GT(acc["walk"]["guest-collect-seconds"].get<double>(), 0.0) << acc["walk"].dump();
    std::cout << "walk " << acc["walk"].dump() << "\n";

    // Per process, three ways: the walk, the kernel's mm->pgtables_bytes, and
    // the guest's VmPTE through the agent; and, for every ptbench process,
    // its /proc/PID/status read here by a program in the guest.
    int checked = 0;
    for (const auto& p : acc["processes"]) {
        EXPECT_EQ(p["walked-vm-pte-bytes"], p["kernel-vm-pte-bytes"]) << p.dump();
        if (p["comm"] != "ptbench") {
            continue;
        }
        EXPECT_EQ(p["walked-vm-pte-bytes"], p["vm-pte-bytes"]) << p.dump();
        const auto pid = p["pid"].get<std::int64_t>();
        EXPECT_EQ(p["walked-vm-pte-bytes"].get<std::uint64_t>(),
                  vm().proc_kb(cat("/proc/", pid, "/status"), "VmPTE"))
            << p.dump();
        // shmem: every worker has its own tables for the region, nothing shared.
        EXPECT_EQ(p["shared-bytes"], 0) << p.dump();
        ++checked;
    }
    EXPECT_GE(checked, kSharers);

    // The guest's PageTables lies in the documented band around the walk.
    const auto& t = acc["totals"];
    EXPECT_EQ(t["within-tolerance"], true) << t.dump();
    EXPECT_GE(page_tables, t["page-tables-low-bytes"].get<std::uint64_t>()) << t.dump();
    EXPECT_LE(page_tables, t["page-tables-high-bytes"].get<std::uint64_t>()) << t.dump();
    EXPECT_EQ(t["savings-bytes"], 0) << t.dump();

    // One worker's page tables: the same walk, per level.
    const auto worker = *workers.rbegin();
    const auto pt = vm().execute("mshare-query-page-tables", {{"pid", worker}});
    std::uint64_t tables = 0;
    for (const auto& level : pt["levels"]) {
        tables += level["tables"].get<std::uint64_t>();
    }
    EXPECT_EQ(tables * kPage, pt["table-bytes"].get<std::uint64_t>()) << pt.dump();
    EXPECT_GE(pt["mapped-bytes"].get<std::uint64_t>(), kRegionBytes) << pt.dump();
    EXPECT_EQ(pt["walked-vm-pte-bytes"], pt["kernel-vm-pte-bytes"]) << pt.dump();
    try {
        (void)vm().execute("mshare-query-page-tables", {{"pid", 999999}});
        ADD_FAILURE() << "a pid no process has";
    } catch (const protocol::CommandError& e) {
        EXPECT_EQ(e.error_class(), protocol::ErrorClass::device_not_found);
    }

    const auto regions = vm().execute("mshare-query-regions");
    EXPECT_EQ(regions["shared-puds"], json::array()) << regions.dump();
    EXPECT_EQ(regions["consistent"], true);

    // The command-line client shows the same report.
    const auto ctl = control::test::run_process(
        kVmm + " ctl --socket '" + vm().socket().string() + "' --json accounting", vm().dir());
    EXPECT_EQ(ctl.status, 0) << ctl.err;
    EXPECT_EQ(json::parse(ctl.out, nullptr, false)["processes"].size(), acc["processes"].size())
        << ctl.out;

    const auto done = vm().release_ptbench(bench);
    EXPECT_EQ(done.value("exit-code", -1), 0) << done.dump();
}

TEST_F(GuestIntrospection, MshareSharersLinkOnePudWithTheKernelsShareCount) {
    if (vm().sh("test -e /sys/fs/mshare/mshare_info && echo yes || true") != "yes\n") {
        GTEST_SKIP() << "the guest kernel has no msharefs (/sys/fs/mshare/mshare_info): the "
                        "msharefs series is not in this kernel build (guest-kernel-patch/series)";
    }
    const auto before = vm().execute("mshare-query-accounting");
    EXPECT_EQ(vm().execute("mshare-query-regions")["shared-puds"], json::array());

    const auto bench = vm().start_ptbench("mshare");
    const auto regions = vm().execute("mshare-query-regions");
    ASSERT_EQ(regions["shared-puds"].size(), 1U) << regions.dump();
    const auto& pud = regions["shared-puds"][0];
    EXPECT_EQ(pud["task-roots"], kSharers) << pud.dump();
    EXPECT_EQ(pud["sharers"].size(), static_cast<std::size_t>(kSharers)) << pud.dump();
    EXPECT_TRUE(pud["host-mm-pgd"].is_string()) << pud.dump();
    EXPECT_EQ(pud["share-count"], kSharers) << pud.dump();
    EXPECT_EQ(pud["consistent"], true) << pud.dump();
    EXPECT_EQ(pud["pages"], kRegionBytes / kPage) << pud.dump();
    EXPECT_EQ(regions["consistent"], true);
    ASSERT_EQ(regions["regions"].size(), 1U) << regions.dump();
    EXPECT_EQ(regions["regions"][0]["mapped-bytes"], kRegionBytes);

    // Every sharer reaches the region's tables; the savings are N-1 copies.
    const auto acc = vm().execute("mshare-query-accounting");
    const auto region_tables = regions["regions"][0]["table-bytes"].get<std::uint64_t>();
    EXPECT_EQ(acc["totals"]["savings-bytes"], (kSharers - 1) * region_tables) << acc.dump();
    for (const auto& pid : pud["sharers"]) {
        const auto pt = vm().execute("mshare-query-page-tables", {{"pid", pid}});
        EXPECT_EQ(pt["shared-bytes"], region_tables) << pt.dump();
    }

    const auto done = vm().release_ptbench(bench);
    EXPECT_EQ(done.value("exit-code", -1), 0) << done.dump();
    const auto after_regions = vm().execute("mshare-query-regions");
    EXPECT_EQ(after_regions["shared-puds"], json::array()) << after_regions.dump();
    EXPECT_EQ(after_regions["regions"], json::array());
    // Back to the baseline, give or take the tables of the agent's helpers.
    const auto base = before["totals"]["comparable-bytes"].get<std::int64_t>();
    const auto end =
        vm().execute("mshare-query-accounting")["totals"]["comparable-bytes"].get<std::int64_t>();
    EXPECT_LE(std::abs(end - base), 16 * static_cast<std::int64_t>(kPage))
        << "before " << base << ", after " << end;
}

}  // namespace
}  // namespace mvmm::guest_services
