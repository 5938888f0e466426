#include "scenario_command.hpp"

#include <atomic>
#include <cstdio>
#include <ctime>
#include <deque>
#include <regex>
#include <thread>

#include <signal.h>
#include <unistd.h>

#include <mvmm/common/clock.hpp>
#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/scenario/process_vm.hpp>
#include <mvmm/scenario/progress.hpp>
#include <mvmm/scenario/report.hpp>
#include <mvmm/scenario/runner.hpp>
#include <mvmm/scenario/scenario.hpp>

namespace mvmm::app {
namespace {

namespace sc = mvmm::scenario;

std::string iso_now() {
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    std::array<char, 32> buf{};
    std::strftime(buf.data(), buf.size(), "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf.data();
}

std::string duration_text(double seconds) {
    const auto s = static_cast<long>(seconds);
    if (s < 60) {
        return cat(s, " s");
    }
    return cat(s / 60, " min ", s % 60, " s");
}

// Waits for SIGINT/SIGTERM (blocked in every thread) and, on the first one,
// cancels the run and kills the VMs so that the reports are still written.
class Interrupts {
  public:
    Interrupts(std::atomic<bool>& cancel, sc::ProcessVmLauncher& launcher) {
        sigemptyset(&set_);
        sigaddset(&set_, SIGINT);
        sigaddset(&set_, SIGTERM);
        pthread_sigmask(SIG_BLOCK, &set_, &old_);
        thread_ = std::jthread([this, &cancel, &launcher](const std::stop_token& stop) {
            const timespec tick{0, 200'000'000};
            while (!stop.stop_requested()) {
                const int sig = sigtimedwait(&set_, nullptr, &tick);
                if (sig == SIGINT || sig == SIGTERM) {
                    if (!cancel.exchange(true)) {
                        std::fprintf(stderr,
                                     "\nmshare-vmm: %s: ending the VMs and writing the "
                                     "reports\n",
                                     sig == SIGINT ? "interrupted" : "terminated");
                    }
                    launcher.kill_all();
                }
            }
        });
    }
    Interrupts(const Interrupts&) = delete;
    Interrupts& operator=(const Interrupts&) = delete;
    ~Interrupts() {
        thread_.request_stop();
        thread_.join();
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
    }

  private:
    sigset_t set_{};
    sigset_t old_{};
    std::jthread thread_;
};

std::string parameters_text(const nlohmann::json& parameters) {
    std::string out;
    for (const auto& [k, v] : parameters.items()) {
        out += cat(out.empty() ? "" : " ", k, "=", v.is_string() ? v.get<std::string>() : v.dump());
    }
    return out;
}

}  // namespace

CLI::App* add_scenario_command(CLI::App& app, ScenarioOptions& o) {
    auto* cmd = app.add_subcommand(
        "scenario", "Run scenario files: each scenario boots its own VM (docs/scenarios.md)");
    cmd->add_option("files", o.files, "Scenario files (JSON)")->required();
    cmd->add_option("-j,--jobs", o.jobs, "Scenarios to run at once (each is its own VM)")
        ->check(CLI::Range(1U, 256U));
    cmd->add_option("-o,--output", o.output_dir,
                    "Folder for the reports and each scenario's logs (default scenario-results)");
    cmd->add_option("--junit", o.junit, "JUnit XML report (default OUTPUT/junit.xml)");
    cmd->add_option("--json", o.json, "JSON report (default OUTPUT/report.json)");
    cmd->add_option("--filter", o.filter,
                    "Run only scenarios whose name (or FILE:NAME) matches this regular expression");
    cmd->add_option("--time-limit-factor", o.time_limit_factor,
                    "Multiply every time limit by this (slow machines)")
        ->check(CLI::Range(0.01, 1000.0));
    cmd->add_option("--vmm", o.vmm, "The mshare-vmm binary that runs the VMs (default: this one)");
    cmd->add_flag("--check", o.check, "Only check the files and exit");
    cmd->add_flag("--list", o.list, "List the scenarios (after matrix expansion) and exit");
    cmd->add_flag("--plain", o.plain, "Plain progress lines even on a terminal");
    cmd->add_option("--exit-skipped", o.exit_skipped,
                    "Exit status when nothing failed but a scenario was skipped (default 0; "
                    "77 tells CTest the test was skipped)")
        ->check(CLI::Range(0, 255));
    return cmd;
}

int run_scenario_command(const ScenarioOptions& o, int argc, char** argv) {
    // 1. The files.
    std::deque<sc::ScenarioFile> files;
    try {
        for (const auto& f : o.files) {
            files.push_back(sc::load_scenario_file(f));
        }
    } catch (const Error& e) {
        std::fprintf(stderr, "mshare-vmm: %s\n", e.what());
        return kScenarioBadFile;
    }
    std::optional<std::regex> filter;
    if (!o.filter.empty()) {
        try {
            filter.emplace(o.filter);
        } catch (const std::regex_error& e) {
            std::fprintf(stderr, "mshare-vmm: --filter %s: not a regular expression (%s)\n",
                         quote(o.filter).c_str(), e.what());
            return kScenarioBadFile;
        }
    }
    std::vector<const sc::Scenario*> selected;
    std::size_t total = 0;
    for (const auto& f : files) {
        for (const auto& s : f.scenarios) {
            ++total;
            const auto id = cat(f.path.filename().string(), ":", s.name);
            if (!filter || std::regex_search(s.name, *filter) || std::regex_search(id, *filter)) {
                selected.push_back(&s);
            }
        }
    }
    if (o.check || o.list) {
        if (o.list) {
            for (const auto* s : selected) {
                std::printf("%s: %s%s%s (%zu steps, time limit %s)%s\n", s->file.filename().c_str(),
                            s->name.c_str(), s->parameters.empty() ? "" : " ",
                            parameters_text(s->parameters).c_str(), s->steps.size(),
                            duration_text(s->time_limit_seconds).c_str(),
                            s->vm ? "" : cat(" - will be skipped: ", s->skip_reason).c_str());
            }
        } else {
            std::printf("%zu file(s), %zu scenario(s): no errors\n", files.size(), total);
        }
        return kScenarioPassed;
    }
    if (selected.empty()) {
        std::fprintf(stderr, "mshare-vmm: --filter %s matches none of the %zu scenarios\n",
                     quote(o.filter).c_str(), total);
        return kScenarioBadFile;
    }

    // 2. The run.
    sc::ProcessVmOptions vmm;
    vmm.vmm_binary = o.vmm.empty() ? std::filesystem::read_symlink("/proc/self/exe")
                                   : std::filesystem::path(o.vmm);
    sc::ProcessVmLauncher launcher(vmm);
    std::atomic<bool> cancel{false};
    sc::RunOptions run;
    run.jobs = o.jobs;
    run.output_dir = o.output_dir;
    run.time_limit_factor = o.time_limit_factor;
    run.cancel = &cancel;

    sc::RunInfo info;
    info.started_at = iso_now();
    for (int i = 0; i < argc; ++i) {
        info.command_line += cat(i ? " " : "", argv[i]);
    }
    info.jobs = o.jobs;
    info.time_limit_factor = o.time_limit_factor;
    info.host = sc::describe_host();

    const bool terminal = !o.plain && ::isatty(STDOUT_FILENO) == 1;
    std::printf("running %zu scenario(s) from %zu file(s), %u at a time; logs in %s\n",
                selected.size(), files.size(), o.jobs, o.output_dir.c_str());
    std::fflush(stdout);
    const Stopwatch clock;
    std::vector<sc::ScenarioResult> results;
    {
        const Interrupts interrupts(cancel, launcher);
        const auto progress = sc::make_console_progress(stdout, terminal);
        results = sc::run_scenarios(selected, launcher, run, *progress);
    }
    info.seconds = clock.seconds();

    // 3. Reports and summary.
    const auto junit = o.junit.empty() ? std::filesystem::path(o.output_dir) / "junit.xml"
                                       : std::filesystem::path(o.junit);
    const auto json = o.json.empty() ? std::filesystem::path(o.output_dir) / "report.json"
                                     : std::filesystem::path(o.json);
    try {
        sc::write_file_atomically(junit, sc::junit_report(results, info));
        sc::write_file_atomically(json, sc::json_text(sc::json_report(results, info)));
    } catch (const Error& e) {
        std::fprintf(stderr, "mshare-vmm: %s\n", e.what());
        return kScenarioFailed;
    }
    std::size_t passed = 0;
    std::size_t failed = 0;
    std::size_t errors = 0;
    std::size_t skipped = 0;
    for (const auto& r : results) {
        passed += r.status == sc::Status::passed ? 1 : 0;
        failed += r.status == sc::Status::failed ? 1 : 0;
        errors += r.status == sc::Status::error ? 1 : 0;
        skipped += r.status == sc::Status::skipped ? 1 : 0;
    }
    std::printf("\n%zu scenario(s) in %s: %zu passed, %zu failed, %zu errors, %zu skipped\n",
                results.size(), duration_text(info.seconds).c_str(), passed, failed, errors,
                skipped);
    for (const auto& r : results) {
        if (r.status == sc::Status::failed || r.status == sc::Status::error) {
            std::printf("  %s %s: %s\n", r.status == sc::Status::failed ? "FAILED" : "ERROR ",
                        r.name.c_str(), r.failures.empty() ? "?" : r.failures.front().c_str());
            if (!r.work_dir.empty()) {
                std::printf("         logs: %s\n", r.work_dir.c_str());
            }
        } else if (r.status == sc::Status::skipped) {
            std::printf("  skipped %s: %s\n", r.name.c_str(), r.skip_reason.c_str());
        }
    }
    std::printf("reports: %s, %s\n", junit.c_str(), json.c_str());
    if (cancel) {
        return kScenarioInterrupted;
    }
    if (failed + errors > 0) {
        return kScenarioFailed;
    }
    return skipped > 0 ? o.exit_skipped : kScenarioPassed;
}

}  // namespace mvmm::app
