// KVM engine figures, each measured in a fresh child process (this program
// run with --probe=...), so that nothing of one measurement stays for the next:
//
//   TimeToFirstInstruction  from spawning the VMM process to the guest's first
//                           port write (its second instruction), with the
//                           share of the host check and of Engine::start().
//   VmmMemoryOverhead/N     RSS of a VMM process with N vCPUs minus the guest
//                           RAM the guest touched. Anchor: Firecracker's
//                           specification promises at most 5 MiB.
//
// The guest is synthetic (a few instructions), so the figures are the VMM's own.
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/clock.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/engine/console.hpp>
#include <mvmm/engine/factory.hpp>
#include <mvmm/guest_abi.h>
#include <mvmm/kvm/host_check.hpp>
#include <mvmm/kvm/x86_asm.hpp>
#include <mvmm/loader/elf_writer.hpp>

extern char** environ;

namespace {

using mvmm::x86asm::Reg;
constexpr std::uint64_t kCode = 0x200000;
constexpr std::uint64_t kTouchBase = 16ULL << 20;
constexpr std::uint64_t kGuestMiB = 256;

std::int64_t steady_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

// The guest: touch `touch_mib` MiB (one store per 4 KiB page), report 'B' on
// the marker port, halt. With touch_mib 0 the very first instructions report.
std::vector<std::byte> guest_image(std::uint64_t touch_mib) {
    mvmm::x86asm::Assembler a(kCode);
    if (touch_mib > 0) {
        a.mov(Reg::rbx, kTouchBase);
        a.mov(Reg::rcx, kTouchBase + touch_mib * 1024 * 1024);
        a.label("touch");
        a.store64(Reg::rbx, Reg::rbx);
        a.add(Reg::rbx, 4096);
        a.cmp(Reg::rbx, Reg::rcx);
        a.jb("touch");
    }
    a.mov(Reg::rax, MVMM_MARKER_BOOT_COMPLETE);
    a.out_imm8_al(MVMM_MARKER_PORT);
    a.label("halt");
    a.cli();
    a.hlt();
    a.jmp("halt");
    mvmm::ElfSegment text;
    text.gpa = kCode;
    text.bytes = a.finish();
    return mvmm::make_elf_executable(std::vector<mvmm::ElfSegment>{text}, kCode);
}

struct Vm {
    std::string dir;
    mvmm::VmConfig config;
    std::unique_ptr<mvmm::ConsoleSink> console;
    std::unique_ptr<mvmm::Engine> engine;
    std::mutex mutex;
    std::condition_variable cv;
    std::int64_t first_insn_ns = 0;
    double make_engine_ms = 0;
    double start_ms = 0;

    Vm(unsigned vcpus, std::uint64_t touch_mib) {
        std::string templ = "/tmp/mvmm-bench-XXXXXX";
        if (::mkdtemp(templ.data()) == nullptr) {
            throw mvmm::Error("mkdtemp failed");
        }
        dir = templ;
        const auto image = guest_image(touch_mib);
        const std::string kernel = dir + "/guest.elf";
        std::ofstream(kernel, std::ios::binary)
            .write(reinterpret_cast<const char*>(image.data()), static_cast<long>(image.size()));
        config.kernel = kernel;
        config.name = "bench";
        config.vcpus = vcpus;
        config.memory_mib = kGuestMiB;
        config.agent_socket = dir + "/agent.sock";
        console = std::make_unique<mvmm::ConsoleSink>(mvmm::ConsoleSink::Options{});
        mvmm::EngineSetup setup{config, *console, dir};
        setup.allow_kvm_without_user_space = true;
        mvmm::Stopwatch watch;
        engine = mvmm::make_kvm_engine(setup);
        make_engine_ms = watch.seconds() * 1000;
        engine->set_event_handler([this](const mvmm::EngineEvent& e) {
            if (e.kind == mvmm::EngineEvent::Kind::boot_complete) {
                const std::lock_guard lock(mutex);
                first_insn_ns = steady_ns();
                cv.notify_all();
            }
        });
        watch.restart();
        engine->start();
        start_ms = watch.seconds() * 1000;
        std::unique_lock lock(mutex);
        if (!cv.wait_for(lock, std::chrono::seconds(60), [&] { return first_insn_ns != 0; })) {
            throw mvmm::Error("the benchmark guest did not report within 60 s");
        }
    }
    ~Vm() {
        engine->stop();
        engine->wait();
        engine.reset();
        std::remove((dir + "/guest.elf").c_str());
        ::rmdir(dir.c_str());
    }
};

// kB of a "Key:   N kB" line of a /proc file, for the first line with `key`
// after a line containing `after` (or from the start).
std::uint64_t proc_kib(const char* file, const std::string& key, const std::string& after = "") {
    std::ifstream in(file);
    std::string line;
    bool armed = after.empty();
    while (std::getline(in, line)) {
        if (!armed) {
            armed = line.find(after) != std::string::npos;
            continue;
        }
        if (line.rfind(key, 0) == 0) {
            return std::strtoull(line.c_str() + key.size(), nullptr, 10);
        }
    }
    return 0;
}

int probe_first_instruction() {
    const auto main_ns = steady_ns();
    Vm vm(1, 0);
    std::cout << nlohmann::json{{"main_ns", main_ns},
                                {"first_insn_ns", vm.first_insn_ns},
                                {"make_engine_ms", vm.make_engine_ms},
                                {"start_ms", vm.start_ms}}
              << std::endl;
    return 0;
}

int probe_memory(unsigned vcpus, std::uint64_t touch_mib) {
    Vm vm(vcpus, touch_mib);
    const auto rss = proc_kib("/proc/self/status", "VmRSS:");
    const auto guest = proc_kib("/proc/self/smaps", "Rss:", "memfd:mshare-vmm-bench");
    std::cout << nlohmann::json{{"rss_kib", rss}, {"guest_rss_kib", guest}} << std::endl;
    return 0;
}

// Runs this program with `args` and returns the JSON line it prints.
nlohmann::json run_probe(const std::vector<std::string>& args, std::int64_t* spawned_ns) {
    int out[2];
    if (::pipe(out) != 0) {
        throw mvmm::Error("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<char*> argv;
    std::string self = "/proc/self/exe";
    argv.push_back(self.data());
    std::vector<std::string> copy = args;
    for (auto& a : copy) {
        argv.push_back(a.data());
    }
    argv.push_back(nullptr);
    pid_t pid = 0;
    *spawned_ns = steady_ns();
    const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(out[1]);
    if (rc != 0) {
        ::close(out[0]);
        throw mvmm::Error("posix_spawn failed");
    }
    std::string text;
    char buf[4096];
    ssize_t n = 0;
    while ((n = ::read(out[0], buf, sizeof buf)) > 0) {
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || text.empty()) {
        throw mvmm::Error("the probe process failed");
    }
    return nlohmann::json::parse(text);
}

void TimeToFirstInstruction(benchmark::State& state) {
    double check = 0;
    double start = 0;
    double from_main = 0;
    for (auto _ : state) {
        std::int64_t spawned = 0;
        const auto r = run_probe({"--probe=first-insn"}, &spawned);
        const auto first = r.at("first_insn_ns").get<std::int64_t>();
        state.SetIterationTime(static_cast<double>(first - spawned) / 1e9);
        from_main += static_cast<double>(first - r.at("main_ns").get<std::int64_t>()) / 1e6;
        check += r.at("make_engine_ms").get<double>();
        start += r.at("start_ms").get<double>();
    }
    const auto n = static_cast<double>(state.iterations());
    state.counters["from_main_ms"] = from_main / n;
    state.counters["host_check_ms"] = check / n;
    state.counters["engine_start_ms"] = start / n;
}
BENCHMARK(TimeToFirstInstruction)->UseManualTime()->Unit(benchmark::kMillisecond)->Iterations(20);

void VmmMemoryOverhead(benchmark::State& state) {
    const auto vcpus = static_cast<unsigned>(state.range(0));
    const std::uint64_t touch_mib = 64;
    double overhead = 0;
    double rss = 0;
    double guest = 0;
    for (auto _ : state) {
        std::int64_t spawned = 0;
        const auto r = run_probe(
            {"--probe=memory", std::to_string(vcpus), std::to_string(touch_mib)}, &spawned);
        const auto rss_kib = r.at("rss_kib").get<double>();
        const auto guest_kib = r.at("guest_rss_kib").get<double>();
        rss += rss_kib / 1024;
        guest += guest_kib / 1024;
        overhead += (rss_kib - guest_kib) / 1024;
    }
    const auto n = static_cast<double>(state.iterations());
    state.counters["overhead_MiB"] = overhead / n;
    state.counters["firecracker_max_MiB"] = 5;
    state.counters["rss_MiB"] = rss / n;
    state.counters["guest_touched_MiB"] = guest / n;
}
BENCHMARK(VmmMemoryOverhead)->Arg(1)->Arg(2)->Arg(8)->Iterations(3)->Unit(benchmark::kMillisecond);

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc >= 2 && std::string(argv[1]) == "--probe=first-insn") {
            mvmm::log::set_level(mvmm::log::Level::error);
            return probe_first_instruction();
        }
        if (argc >= 4 && std::string(argv[1]) == "--probe=memory") {
            mvmm::log::set_level(mvmm::log::Level::error);
            return probe_memory(static_cast<unsigned>(std::stoul(argv[2])), std::stoull(argv[3]));
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_kvm probe: %s\n", e.what());
        return 1;
    }
    const auto check = mvmm::check_kvm_host();
    if (!check.kvm_usable) {
        std::fprintf(stderr, "bench_kvm: skipped: %s\n", check.reason.c_str());
        return 0;
    }
    std::printf("host check: %s\n", check.reason.c_str());
    benchmark::Initialize(&argc, argv);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
