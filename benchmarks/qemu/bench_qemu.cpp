// What supervision by mshare-vmm costs on the QEMU engine: the time from
// spawning a process to
//   - the guest's boot-complete marker (the byte 'B' that /init writes to port
//     0xe9 once it has mounted everything, just before it starts the agent),
//   - agent-ready: the guest agent answering the guest-sync handshake on COM2,
// for
//   plain   qemu-system-x86_64 booting the kernel and initramfs with the same
//           machine, vCPUs, memory, command line and serial ports, the console
//           and the marker (isa-debugcon) on sockets, COM2 on a UNIX socket,
//           RAM not in a file, no QMP;
//   vmm     `mshare-vmm run --config F` on the QEMU engine (with its control
//           socket), the marker seen when the VMM logs "boot complete after".
// In both, this program's agent client connects to the COM2 socket (the same
// client the VMM's control socket uses) and the run ends with SIGTERM, a clean
// shutdown.
//
// Each repetition runs one boot of each, alternating which goes first, so
// the machine's background load hits both alike. Counters (per repetition,
// and their median over the repetitions): *_agent_s and agent_ratio
// (vmm/plain, the headline; goal <= 1.10), *_marker_s and marker_ratio, and
// *_cpu_s and cpu_ratio: user plus system time of the whole process tree up
// to its end, which on a busy machine is steadier than wall time.
//
//   build/benchmarks/qemu/bench_qemu [--benchmark_repetitions=N]   (default 7)
//
// The guest: out/kernel/bzImage and out/initramfs/initramfs.cpio, or
// $MVMM_BENCH_KERNEL and $MVMM_BENCH_INITRAMFS.
#include <array>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mvmm/agent/agent_client.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/qemu/child_process.hpp>
#include <mvmm/qemu/command_line.hpp>

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr unsigned kVcpus = 2;
constexpr unsigned kMemoryMib = 512;
constexpr auto kBootLimit = std::chrono::seconds(120);

fs::path artifact(const char* env, const char* relative) {
    if (const char* value = std::getenv(env); value != nullptr && *value != '\0') {
        return value;
    }
    return fs::path(MVMM_SOURCE_DIR) / relative;
}

class TempDir {
  public:
    TempDir() {
        std::string templ = (fs::temp_directory_path() / "mvmm-bench-XXXXXX").string();
        if (::mkdtemp(templ.data()) == nullptr) {
            mvmm::throw_errno("mkdtemp");
        }
        path_ = templ;
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    [[nodiscard]] const fs::path& path() const { return path_; }

  private:
    fs::path path_;
};

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Reads from `fd` until `done(data so far)` says so, meanwhile draining
// `drain_fd` (if >= 0); throws on end-of-file or time-out.
template <typename Done>
void read_until(int fd, Clock::time_point start, std::string_view what, Done done,
                int drain_fd = -1) {
    std::string seen;
    char buffer[4096];
    while (!done(seen)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(start + kBootLimit -
                                                                                Clock::now());
        std::array<pollfd, 2> fds{{{fd, POLLIN, 0}, {drain_fd, POLLIN, 0}}};
        if (left.count() <= 0 ||
            ::poll(fds.data(), drain_fd >= 0 ? 2 : 1, static_cast<int>(left.count())) <= 0) {
            throw mvmm::Error(
                mvmm::cat(what, ": no boot-complete marker within ", kBootLimit.count(), " s"));
        }
        if (drain_fd >= 0 && (fds[1].revents & POLLIN) != 0) {
            (void)!::read(drain_fd, buffer, sizeof buffer);
        }
        if ((fds[0].revents & (POLLIN | POLLHUP)) == 0) {
            continue;
        }
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n <= 0) {
            throw mvmm::Error(mvmm::cat(what, ": ended before the boot-complete marker; output: ",
                                        seen.substr(seen.size() > 2000 ? seen.size() - 2000 : 0)));
        }
        seen.append(buffer, static_cast<std::size_t>(n));
    }
}

// Wall times to the marker and to agent-ready, and the CPU time of the run.
struct Boot {
    double marker_seconds = 0;
    double agent_seconds = 0;
    double cpu_seconds = 0;
};

// Reads `fd` until end-of-file, on its own thread.
class Drain {
  public:
    explicit Drain(int fd)
        : thread_([fd] {
              char buffer[4096];
              while (::read(fd, buffer, sizeof buffer) > 0) {
              }
          }) {}

  private:
    std::jthread thread_;
};

// Waits for the agent at `socket`; returns the seconds since `start`.
double agent_ready(const fs::path& socket, Clock::time_point start) {
    mvmm::agent::AgentClient agent(socket);
    agent.wait_ready(
        std::chrono::duration_cast<std::chrono::milliseconds>(start + kBootLimit - Clock::now()));
    const double seconds = seconds_since(start);
    agent.disconnect();
    return seconds;
}

struct Guest {
    fs::path kernel;
    fs::path initramfs;
};

// Plain QEMU: the engine's machine and serial ports, RAM not in a file, no QMP.
Boot boot_plain(const Guest& guest) {
    TempDir dir;
    const auto agent_socket = dir.path() / "agent.sock";
    auto pair = [] {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
            mvmm::throw_errno("socketpair");
        }
        return std::pair{mvmm::UniqueFd(fds[0]), mvmm::UniqueFd(fds[1])};
    };
    // The marker and the console go to sockets, as with the engine; the
    // console is read and dropped (QEMU writes it a byte at a time, so an
    // unread socket would soon be full and stall the guest).
    auto [ours, theirs] = pair();
    auto [console_ours, console_theirs] = pair();
    const std::vector<std::string> argv = {
        "qemu-system-x86_64",
        "-machine",
        "microvm",
        "-accel",
        "tcg",
        "-smp",
        mvmm::cat(kVcpus),
        "-m",
        mvmm::cat(kMemoryMib, "M"),
        "-kernel",
        guest.kernel.string(),
        "-initrd",
        guest.initramfs.string(),
        "-append",
        mvmm::qemu_default_cmdline(),
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-no-reboot",
        "-chardev",
        mvmm::cat("socket,id=console,fd=", console_theirs.get()),
        "-serial",
        "chardev:console",
        "-chardev",
        mvmm::cat("socket,id=agent,server=on,wait=off,path=", agent_socket.string()),
        "-device",
        "isa-serial,index=1,chardev=agent",
        "-chardev",
        mvmm::cat("socket,id=marker,fd=", theirs.get()),
        "-device",
        "isa-debugcon,iobase=0xe9,chardev=marker"};
    const auto start = Clock::now();
    mvmm::ChildProcess qemu(
        {.argv = argv, .inherit_fds = {theirs.get(), console_theirs.get()}, .stderr_fd = -1});
    theirs.reset();
    console_theirs.reset();
    Boot boot;
    {
        const Drain console(console_ours.get());
        read_until(ours.get(), start, "plain QEMU",
                   [](const std::string& seen) { return seen.find('B') != std::string::npos; });
        boot.marker_seconds = seconds_since(start);
        boot.agent_seconds = agent_ready(agent_socket, start);
        qemu.signal(SIGTERM);  // QEMU shuts down cleanly, as it does when the VMM stops it
        qemu.wait();
    }
    boot.cpu_seconds = qemu.cpu_seconds();
    return boot;
}

// mshare-vmm on the QEMU engine.
Boot boot_vmm(const Guest& guest) {
    TempDir dir;
    const auto config = dir.path() / "vm.json";
    const auto agent_socket = dir.path() / "agent.sock";
    std::ofstream(config) << mvmm::cat(
        R"({"name": "bench", "engine": "qemu", "vcpus": )", kVcpus, R"(, "memory_mib": )",
        kMemoryMib, R"(, "kernel": ")", guest.kernel.string(), R"(", "initramfs": ")",
        guest.initramfs.string(), R"(", "agent_socket": ")", agent_socket.string(), R"("})");
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        mvmm::throw_errno("pipe");
    }
    mvmm::UniqueFd read_end(fds[0]);
    mvmm::UniqueFd write_end(fds[1]);
    const auto start = Clock::now();
    mvmm::ChildProcess vmm(
        {.argv = {MVMM_VMM_BINARY, "run", "--config", config.string(), "--no-console-stdout"},
         .inherit_fds = {},
         .stderr_fd = write_end.get()});
    write_end.reset();
    read_until(read_end.get(), start, "mshare-vmm", [](const std::string& seen) {
        return seen.find("boot complete after") != std::string::npos;
    });
    Boot boot;
    boot.marker_seconds = seconds_since(start);
    {
        const Drain log(read_end.get());
        boot.agent_seconds = agent_ready(agent_socket, start);
        vmm.signal(SIGTERM);  // the VMM stops the VM cleanly
        vmm.wait();
    }
    boot.cpu_seconds = vmm.cpu_seconds();
    return boot;
}

void BootToAgentReady(benchmark::State& state) {
    const Guest guest{artifact("MVMM_BENCH_KERNEL", "out/kernel/bzImage"),
                      artifact("MVMM_BENCH_INITRAMFS", "out/initramfs/initramfs.cpio")};
    for (const auto& file : {guest.kernel, guest.initramfs}) {
        if (!fs::is_regular_file(file)) {
            state.SkipWithError(mvmm::cat("no guest file ", file.string(),
                                          " (build the kernel and initramfs first)")
                                    .c_str());
            return;
        }
    }
    static unsigned round = 0;
    for (auto _ : state) {
        Boot plain;
        Boot vmm;
        try {
            if (round++ % 2 == 0) {
                plain = boot_plain(guest);
                vmm = boot_vmm(guest);
            } else {
                vmm = boot_vmm(guest);
                plain = boot_plain(guest);
            }
        } catch (const mvmm::Error& e) {
            state.SkipWithError(e.what());
            return;
        }
        state.SetIterationTime(vmm.agent_seconds);
        state.counters["plain_agent_s"] = plain.agent_seconds;
        state.counters["vmm_agent_s"] = vmm.agent_seconds;
        state.counters["agent_ratio"] = vmm.agent_seconds / plain.agent_seconds;
        state.counters["plain_marker_s"] = plain.marker_seconds;
        state.counters["vmm_marker_s"] = vmm.marker_seconds;
        state.counters["marker_ratio"] = vmm.marker_seconds / plain.marker_seconds;
        state.counters["plain_cpu_s"] = plain.cpu_seconds;
        state.counters["vmm_cpu_s"] = vmm.cpu_seconds;
        state.counters["cpu_ratio"] = vmm.cpu_seconds / plain.cpu_seconds;
    }
}

BENCHMARK(BootToAgentReady)->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

// Google Benchmark's main, with 7 repetitions unless --benchmark_repetitions says otherwise.
int main(int argc, char** argv) {
    std::string repetitions = "--benchmark_repetitions=7";
    bool given = false;
    for (int i = 1; i < argc; ++i) {
        given = given || std::string_view(argv[i]).starts_with("--benchmark_repetitions");
    }
    std::vector<char*> args;
    args.reserve(static_cast<std::size_t>(argc) + 1);
    for (int i = 0; i < argc; ++i) {
        args.push_back(argv[i]);
        if (i == 0 && !given) {
            args.push_back(repetitions.data());
        }
    }
    int count = static_cast<int>(args.size());
    benchmark::Initialize(&count, args.data());
    if (benchmark::ReportUnrecognizedArguments(count, args.data())) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
