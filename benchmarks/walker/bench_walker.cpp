// The page-table walk and the full accounting on synthetic guest images (no
// VM): 1024 processes each mapping 128 MiB with 4 KiB pages, once with every
// process owning its tables (256 MiB of PTE tables) and once with the region
// shared through one host mm's PUD the way msharefs links it.
//
//   build/benchmarks/walker/bench_walker [--benchmark_repetitions=5]
//
// Prints Google Benchmark's table, then a summary with the goals beside the
// measured figures (docs/results.md records them). CPU time is the figure
// for "one core": the machines are shared, so wall time is noisy.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <string>

#include <benchmark/benchmark.h>

#include <mvmm/common/clock.hpp>
#include <mvmm/introspect/accounting.hpp>
#include <mvmm/introspect/analysis.hpp>
#include <mvmm/introspect/synthetic_kernel.hpp>
#include <mvmm/walker/synthetic.hpp>
#include <mvmm/walker/walker.hpp>

namespace {

using namespace mvmm;
using walker::ProcessImageSpec;

constexpr unsigned kProcesses = 1024;
constexpr std::uint64_t kBytesPerProcess = 128ULL << 20;
constexpr double kGoalBytesPerSecond = 2e9;
constexpr double kGoalAccountingSeconds = 0.250;

// A synthetic guest: a kernel with 1024 tasks, each with the region mapped
// (own tables or linked to the host's PUD).
struct Image {
    explicit Image(bool shared) : mem(ram(shared)), kernel(mem) {
        ProcessImageSpec spec;
        spec.processes = kProcesses;
        spec.bytes_per_process = kBytesPerProcess;
        spec.shared = shared;
        const auto data = mem.alloc(kBytesPerProcess / kPageSize);
        std::uint64_t pud = 0;
        if (shared) {
            host = kernel.new_root();
            mem.map(host, spec.region_va, data, kBytesPerProcess);
            pud = mem.table_for(host, spec.region_va, 3);
        }
        for (unsigned p = 0; p < kProcesses; ++p) {
            const auto root = kernel.new_root();
            if (shared) {
                mem.set_entry(root, walker::table_index(spec.region_va, 4),
                              pud | walker::kTableFlags);
            } else {
                mem.map(root, spec.region_va, data, kBytesPerProcess);
            }
            roots.push_back(root);
            kernel.add_process(static_cast<std::int32_t>(100 + p), "db", root,
                               shared ? 0 : static_cast<std::int64_t>(66 * kPageSize));
        }
        if (shared) {
            kernel.set_share_count(pud, static_cast<std::int32_t>(kProcesses));
        }
        profile = kernel.profile();
    }

    static std::uint64_t ram(bool shared) {
        ProcessImageSpec spec;
        spec.processes = kProcesses;
        spec.bytes_per_process = kBytesPerProcess;
        spec.shared = shared;
        // Plus the vmemmap, task_structs and mm_structs of the synthetic kernel.
        return walker::ram_needed(spec) + 32 * kMiB + 2ULL * kProcesses * kPageSize;
    }

    walker::SyntheticMemory mem;
    SyntheticKernel kernel;
    Profile profile;
    std::uint64_t host = 0;
    std::vector<std::uint64_t> roots;
};

Image& image(bool shared) {
    static std::map<bool, std::unique_ptr<Image>> images;
    auto& slot = images[shared];
    if (!slot) {
        std::fprintf(stderr, "building the %s image (%u processes x %llu MiB)...\n",
                     shared ? "shared" : "unshared", kProcesses,
                     static_cast<unsigned long long>(kBytesPerProcess >> 20));
        slot = std::make_unique<Image>(shared);
    }
    return *slot;
}

struct Figures {
    double walk_cpu = 0;        // best CPU seconds of one walk
    double accounting_cpu = 0;  // best CPU seconds of analyze + JSON
    std::uint64_t table_bytes = 0;
    std::uint64_t without_sharing = 0;
};
std::map<bool, Figures> figures;

double cpu_seconds() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

void walk_only(benchmark::State& state, bool shared) {
    auto& img = image(shared);
    walker::WalkOptions o;
    std::uint64_t bytes = 0;
    double best = 1e9;
    for (auto _ : state) {
        const double t0 = cpu_seconds();
        auto r = walker::walk(img.mem.view(), img.roots, o);
        best = std::min(best, cpu_seconds() - t0);
        bytes = 0;
        for (int l = 1; l <= 5; ++l) {
            bytes += r.unique_tables()[static_cast<std::size_t>(l)] * kPageSize;
        }
        benchmark::DoNotOptimize(r);
    }
    figures[shared].walk_cpu = best;
    figures[shared].table_bytes = bytes;
    state.counters["table_MiB"] = static_cast<double>(bytes) / static_cast<double>(kMiB);
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * bytes));
}

void full_accounting(benchmark::State& state, bool shared) {
    auto& img = image(shared);
    AnalysisInput in;
    in.memory = &img.mem.view();
    in.vcpus = {img.kernel.registers()};
    in.profile = &img.profile;
    double best = 1e9;
    for (auto _ : state) {
        const double t0 = cpu_seconds();
        const auto a = analyze(in);
        const auto report = accounting_json(a, nullptr);
        best = std::min(best, cpu_seconds() - t0);
        figures[shared].without_sharing = report["totals"]["bytes_without_sharing"];
        benchmark::DoNotOptimize(report);
    }
    figures[shared].accounting_cpu = best;
}

BENCHMARK_CAPTURE(walk_only, unshared, false)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(walk_only, shared, true)->Unit(benchmark::kMillisecond)->MinTime(1.0);
BENCHMARK_CAPTURE(full_accounting, unshared, false)->Unit(benchmark::kMillisecond)->MinTime(2.0);
BENCHMARK_CAPTURE(full_accounting, shared, true)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void print_summary() {
    if (figures.count(false) == 0 || figures.count(true) == 0) {
        return;
    }
    const auto& u = figures[false];
    const auto& s = figures[true];
    const auto gbps = [](const Figures& f) {
        return f.walk_cpu > 0 ? static_cast<double>(f.table_bytes) / f.walk_cpu / 1e9 : 0.0;
    };
    std::printf("\nSummary (best CPU time of one run, one core)\n");
    std::printf("%-34s %14s %14s %14s\n", "", "unshared", "shared", "goal");
    std::printf("%-34s %14.1f %14.1f %14s\n", "page tables walked (MiB)",
                static_cast<double>(u.table_bytes) / static_cast<double>(kMiB),
                static_cast<double>(s.table_bytes) / static_cast<double>(kMiB), "");
    std::printf("%-34s %14.2f %14.3f %14s\n", "walk (ms)", u.walk_cpu * 1e3, s.walk_cpu * 1e3, "");
    std::printf("%-34s %14.2f %14.2f %14.1f\n", "walk rate (GB/s of tables)", gbps(u), gbps(s),
                kGoalBytesPerSecond / 1e9);
    std::printf("%-34s %14.1f %14.1f %14.0f\n", "full accounting (ms)", u.accounting_cpu * 1e3,
                s.accounting_cpu * 1e3, kGoalAccountingSeconds * 1e3);
    std::printf("%-34s %14.1f %14.1f %14s\n", "bytes without sharing (MiB)",
                static_cast<double>(u.without_sharing) / static_cast<double>(kMiB),
                static_cast<double>(s.without_sharing) / static_cast<double>(kMiB), "");
    std::printf("%-34s %14s %14.0fx %14s\n", "walk time unshared / shared", "",
                s.walk_cpu > 0 ? u.walk_cpu / s.walk_cpu : 0.0, "~sharing factor");
    std::printf("%-34s %14s %14.0fx %14s\n", "sharing factor (table bytes)", "",
                s.table_bytes > 0
                    ? static_cast<double>(u.table_bytes) / static_cast<double>(s.table_bytes)
                    : 0.0,
                "");
    std::printf(
        "guest's own view (/proc/*/status through the agent): needs a booted guest; "
        "see docs/results.md\n");
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    print_summary();
    return 0;
}
