// The QEMU engine running real guests in qemu-system-x86_64 (label guest).
#include <algorithm>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/engine/factory.hpp>

#include "qemu/event_log.hpp"
#include "qemu/guest_artifacts.hpp"
#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

using namespace std::chrono_literals;
using Kind = EngineEvent::Kind;

constexpr auto kBootLimit = 120s;  // a failure bound, not a timing assertion

// One engine with everything it needs, in a private folder.
class Vm {
  public:
    explicit Vm(VmConfig config) : config_(std::move(config)) {
        ::chmod(dir_.path().c_str(), 0700);
        config_.source = dir_.path() / "vm.json";
        config_.console_log = dir_.path() / "console.log";
        if (config_.agent_socket.empty()) {
            config_.agent_socket = dir_.path() / "agent.sock";
        }
        console_ = std::make_unique<ConsoleSink>(ConsoleSink::Options{
            .log_file = config_.console_log, .echo_stdout = false, .tail_lines = 2000});
        engine_ =
            make_qemu_engine({.config = config_, .console = *console_, .runtime_dir = dir_.path()});
        engine_->set_event_handler(events.handler());
    }
    ~Vm() { engine_.reset(); }  // before the folder goes
    Engine& engine() { return *engine_; }
    ConsoleSink& console() { return *console_; }
    const VmConfig& config() const { return config_; }
    const test::TempDir& dir() const { return dir_; }
    std::string console_text() const {
        std::ifstream in(config_.console_log);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    }
    test::EventLog events;

  private:
    test::TempDir dir_;
    VmConfig config_;
    std::unique_ptr<ConsoleSink> console_;
    std::unique_ptr<Engine> engine_;
};

VmConfig guest_config(const test::GuestArtifacts& a) {
    VmConfig c;
    c.name = "qemu-test";
    c.kernel = a.kernel;
    c.initramfs = a.initramfs;
    c.vcpus = 2;
    c.memory_mib = 256;
    c.engine = EngineChoice::qemu;
    return c;
}

#define REQUIRE_GUEST(artifacts)                                \
    std::string why_not;                                        \
    const auto artifacts = test::find_guest_artifacts(why_not); \
    if (!artifacts) {                                           \
        GTEST_SKIP() << why_not;                                \
    }

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

// Where `needle` is in guest RAM, searching every range.
std::optional<std::uint64_t> find_in_ram(const PhysView& view, std::string_view needle) {
    for (const auto& r : view.layout().ranges()) {
        const auto bytes = view.span(r.gpa, r.size);
        const auto* begin = reinterpret_cast<const char*>(bytes.data());
        const auto* end = begin + bytes.size();
        const auto* hit = std::search(begin, end, needle.begin(), needle.end());
        if (hit != end) {
            return r.gpa + static_cast<std::uint64_t>(hit - begin);
        }
    }
    return std::nullopt;
}

std::size_t hash_ram(const PhysView& view, std::uint64_t gpa, std::uint64_t len) {
    const auto bytes = view.span(gpa, len);
    return std::hash<std::string_view>{}(
        std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

TEST(QemuEngine, BootsToTheBootCompleteMarkerAndStops) {
    REQUIRE_GUEST(artifacts);
    Vm vm(guest_config(*artifacts));
    auto& engine = vm.engine();
    EXPECT_EQ(engine.name(), "qemu");
    EXPECT_EQ(engine.kvm(), nullptr);
    EXPECT_TRUE(contains(engine.kvm_absent_reason(), "KVM engine")) << engine.kvm_absent_reason();
    EXPECT_EQ(engine.state(), RunState::prelaunch);
    EXPECT_EQ(engine.vcpu_count(), 2U);

    engine.start();
    EXPECT_EQ(engine.state(), RunState::running);
    const auto boot = vm.events.wait_for(Kind::boot_complete, kBootLimit);
    ASSERT_TRUE(boot) << "no boot-complete marker; console:\n" << vm.console_text();
    EXPECT_GT(boot->data.value("seconds", 0.0), 0.0);
    EXPECT_TRUE(contains(vm.console_text(), "Linux version")) << vm.console_text();

    // QEMU serves the agent channel at the configured socket.
    const UniqueFd agent(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, vm.config().agent_socket.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::connect(agent.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);

    engine.stop();
    EXPECT_EQ(engine.wait(), RunState::shutdown);
    const auto shutdown = vm.events.wait_for(Kind::shutdown, 1s);
    ASSERT_TRUE(shutdown);
    EXPECT_EQ(shutdown->reason, "host-qmp-quit");
    EXPECT_EQ(vm.events.count(Kind::engine_crash), 0U);
    engine.stop();  // idempotent
    EXPECT_EQ(engine.state(), RunState::shutdown);
}

TEST(QemuEngine, ReadsGuestMemoryAndSpecialRegisters) {
    REQUIRE_GUEST(artifacts);
    Vm vm(guest_config(*artifacts));
    auto& engine = vm.engine();
    EXPECT_TRUE(engine.memory().layout().ranges().empty());  // nothing before start()
    engine.start();
    ASSERT_TRUE(vm.events.wait_for(Kind::boot_complete, kBootLimit)) << vm.console_text();

    const auto& view = engine.memory();
    const auto& ranges = view.layout().ranges();
    ASSERT_FALSE(ranges.empty());
    EXPECT_EQ(ranges.front().gpa, 0U);
    EXPECT_LE(view.layout().total_bytes(), 256 * kMiB);
    EXPECT_GT(view.layout().total_bytes(), 255 * kMiB);  // only the BIOS hole is missing

    const auto banner = find_in_ram(view, "Linux version ");
    ASSERT_TRUE(banner) << "no kernel banner in guest RAM";
    EXPECT_LT(*banner, 256 * kMiB);

    engine.pause();
    const auto regs = engine.special_registers(0);
    EXPECT_NE(regs.cr0 & (1ULL << 31), 0U) << "paging is off: CR0=" << std::hex << regs.cr0;
    EXPECT_NE(regs.efer & (1ULL << 10), 0U) << "not in long mode: EFER=" << std::hex << regs.efer;
    const std::uint64_t root = regs.cr3 & 0x000ffffffffff000ULL;
    EXPECT_TRUE(view.layout().contains(root, kPageSize)) << "CR3=" << std::hex << regs.cr3;
    // The top-level table maps something: at least one present entry.
    bool present = false;
    for (std::uint64_t i = 0; i < 512; ++i) {
        const auto entry = view.read_as<std::uint64_t>(root + i * 8);
        ASSERT_TRUE(entry);
        present = present || (*entry & 1) != 0;
    }
    EXPECT_TRUE(present);
    EXPECT_NO_THROW((void)engine.special_registers(1));
    try {
        (void)engine.special_registers(2);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.what(), "vCPU 2 does not exist")) << e.what();
    }
    engine.resume();
    engine.stop();
    engine.wait();
    EXPECT_THROW((void)engine.special_registers(0), Error);
}

TEST(QemuEngine, PauseStopsTheGuestAndResumeLetsItGoOn) {
    REQUIRE_GUEST(artifacts);
    Vm vm(guest_config(*artifacts));
    auto& engine = vm.engine();
    engine.start();
    engine.pause();
    EXPECT_EQ(engine.state(), RunState::paused);
    engine.pause();  // no-op
    ASSERT_TRUE(vm.events.wait_for(Kind::stop, 10s));

    // While paused, neither the console nor guest RAM changes.
    const auto bytes_before = vm.console().bytes_written();
    const auto& view = engine.memory();
    const auto ram_before = hash_ram(view, 0x100000, 64 * kMiB);
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(vm.console().bytes_written(), bytes_before);
    EXPECT_EQ(hash_ram(view, 0x100000, 64 * kMiB), ram_before);
    EXPECT_EQ(engine.state(), RunState::paused);

    engine.resume();
    EXPECT_EQ(engine.state(), RunState::running);
    engine.resume();  // no-op
    ASSERT_TRUE(vm.events.wait_for(Kind::resume, 10s));
    ASSERT_TRUE(vm.events.wait_for(Kind::boot_complete, kBootLimit)) << vm.console_text();
    EXPECT_GT(vm.console().bytes_written(), bytes_before);
    engine.stop();
    EXPECT_EQ(engine.wait(), RunState::shutdown);
    EXPECT_THROW(engine.pause(), Error);
}

TEST(QemuEngine, GuestPanicIsNotACleanShutdown) {
    std::string why_not;
    const auto artifacts = test::find_guest_artifacts(why_not, /*need_initramfs=*/false);
    if (!artifacts) {
        GTEST_SKIP() << why_not;
    }
    auto config = guest_config(*artifacts);
    config.initramfs.reset();  // no root file system: the kernel panics
    Vm vm(config);
    vm.engine().start();
    EXPECT_EQ(vm.engine().wait(), RunState::guest_panicked) << vm.console_text();
    const auto panic = vm.events.wait_for(Kind::panic, 1s);
    ASSERT_TRUE(panic);
    EXPECT_EQ(panic->reason, "console-panic-message");
    EXPECT_TRUE(contains(panic->data.value("line", std::string()), "Kernel panic - not syncing"));
    EXPECT_EQ(vm.events.count(Kind::engine_crash), 0U);
}

// QEMU's pid: our child whose command is qemu-system-*.
std::optional<pid_t> find_qemu_child() {
    const std::unique_ptr<DIR, int (*)(DIR*)> proc(::opendir("/proc"), ::closedir);
    while (const dirent* entry = ::readdir(proc.get())) {
        const pid_t pid = static_cast<pid_t>(std::atol(entry->d_name));
        if (pid <= 0) {
            continue;
        }
        std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
        std::string line;
        std::getline(stat, line);
        const auto close = line.rfind(')');
        if (close == std::string::npos || !contains(line, "(qemu-system-")) {
            continue;
        }
        std::istringstream rest(line.substr(close + 2));
        char state = 0;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == ::getpid()) {
            return pid;
        }
    }
    return std::nullopt;
}

TEST(QemuEngine, QemuKilledFromOutsideIsAnEngineCrashWithItsStderr) {
    REQUIRE_GUEST(artifacts);
    auto config = guest_config(*artifacts);
    test::TempDir bin;
    const auto wrapper =
        bin.write("qemu-wrapper",
                  "#!/bin/sh\necho 'wrapper: starting QEMU' >&2\nexec qemu-system-x86_64 \"$@\"\n");
    ASSERT_EQ(::chmod(wrapper.c_str(), 0755), 0);
    config.qemu.binary = wrapper.string();
    Vm vm(config);
    vm.engine().start();
    const auto pid = find_qemu_child();
    ASSERT_TRUE(pid);
    ASSERT_EQ(::kill(*pid, SIGKILL), 0);
    EXPECT_EQ(vm.engine().wait(), RunState::internal_error);
    const auto crash = vm.events.wait_for(Kind::engine_crash, 1s);
    ASSERT_TRUE(crash);
    EXPECT_EQ(crash->reason, "qemu-exited");
    const auto message = crash->data.value("message", std::string());
    EXPECT_TRUE(contains(message, "killed by signal 9")) << message;
    EXPECT_TRUE(contains(message, "wrapper: starting QEMU")) << message;
    const auto tail = crash->data.value("stderr_tail", std::vector<std::string>());
    EXPECT_NE(std::find(tail.begin(), tail.end(), "wrapper: starting QEMU"), tail.end());
    EXPECT_EQ(vm.events.count(Kind::shutdown), 0U);
    EXPECT_THROW(vm.engine().pause(), Error);
}

TEST(QemuEngine, MissingKernelIsAClearError) {
    test::TempDir dir;
    VmConfig config;
    config.kernel = dir.path() / "no-such-bzImage";
    Vm vm(config);
    try {
        vm.engine().start();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.what(), config.kernel.string())) << e.what();
        EXPECT_TRUE(contains(e.what(), "No such file or directory")) << e.what();
    }
    EXPECT_EQ(vm.engine().state(), RunState::internal_error);
    EXPECT_EQ(vm.engine().wait(), RunState::internal_error);
}

TEST(QemuEngine, KernelQemuCannotLoadIsAnErrorWithQemusWords) {
    test::TempDir dir;
    VmConfig config;
    config.kernel = dir.write("garbage", std::string(4096, 'x'));
    Vm vm(config);
    try {
        vm.engine().start();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.what(), "before the guest started")) << e.what();
        EXPECT_TRUE(contains(e.what(), "exited with status 1")) << e.what();
        EXPECT_TRUE(contains(e.what(), "invalid kernel header")) << e.what();  // its stderr
    }
    EXPECT_EQ(vm.engine().wait(), RunState::internal_error);
    EXPECT_EQ(vm.events.count(Kind::engine_crash), 1U);
}

TEST(QemuEngine, MissingQemuBinaryIsAClearError) {
    test::TempDir dir;
    VmConfig config;
    config.kernel = dir.write("bzImage", "x");
    config.qemu.binary = "no-such-qemu-system";
    Vm vm(config);
    try {
        vm.engine().start();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.what(), "'no-such-qemu-system': not found in PATH")) << e.what();
    }
    EXPECT_EQ(vm.engine().wait(), RunState::internal_error);
}

TEST(QemuEngine, Q35MachineBootsWithItsOwnLayout) {
    REQUIRE_GUEST(artifacts);
    auto config = guest_config(*artifacts);
    config.qemu.machine = "q35";
    config.vcpus = 1;
    Vm vm(config);
    vm.engine().start();
    // q35's BIOS ROMs cover 0xc0000-0xfffff at start: that is not RAM in the view.
    const auto& layout = vm.engine().memory().layout();
    EXPECT_FALSE(layout.contains(0xc0000, 1));
    EXPECT_TRUE(layout.contains(0x100000, kPageSize));
    ASSERT_TRUE(vm.events.wait_for(Kind::boot_complete, kBootLimit)) << vm.console_text();
    EXPECT_TRUE(find_in_ram(vm.engine().memory(), "Linux version "));
    vm.engine().stop();
    EXPECT_EQ(vm.engine().wait(), RunState::shutdown);
}

}  // namespace
}  // namespace mvmm
