// The scenario runner: boots each scenario's VM through a VmLauncher, runs
// its steps, checks its assertions, console and expected outcome, and ends
// the VM. Scenarios run in parallel (-j N), each in its own VM.
#pragma once

#include <atomic>
#include <cstddef>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include <mvmm/scenario/scenario.hpp>
#include <mvmm/scenario/vm_backend.hpp>

namespace mvmm::scenario {

enum class Status {
    passed,
    failed,   // an assertion, a step, the console or the outcome said no
    error,    // the scenario could not be run (the VM did not start, ...)
    skipped,  // a prerequisite is missing
};
// "passed", "failed", "error", "skipped".
std::string_view to_string(Status status);

enum class StepStatus {
    passed,
    failed,
    not_run,  // an earlier step failed, or the time limit was reached
};
std::string_view to_string(StepStatus status);

// The implicit move of nlohmann::json members is noexcept; clang-tidy cannot see it.
// NOLINTNEXTLINE(bugprone-exception-escape)
struct StepResult {
    std::size_t index = 0;
    std::string name;
    StepType type = StepType::sleep;
    StepStatus status = StepStatus::not_run;
    double started = 0;  // seconds since the scenario started
    double seconds = 0;
    nlohmann::json result;                // null if the step has none
    std::vector<std::string> assertions;  // one line per assertion checked
    std::string message;                  // why it failed
};

// A console line that matched a pattern.
struct ConsoleFinding {
    std::size_t line = 0;  // 1-based
    std::string text;
    std::string pattern;
};

struct ScenarioResult {
    std::filesystem::path file;
    std::string name;
    std::string description;
    nlohmann::json parameters = nlohmann::json::object();
    Status status = Status::passed;
    double seconds = 0;
    std::string started_at;  // ISO 8601, UTC

    std::vector<std::string> failures;  // every reason the scenario failed (or errored)
    std::vector<std::string> notes;     // things worth knowing that did not fail it
    std::string skip_reason;
    bool timed_out = false;

    std::vector<StepResult> steps;
    nlohmann::json saved = nlohmann::json::object();  // results saved by name
    nlohmann::json events = nlohmann::json::array();  // every event seen

    Outcome expected_outcome = Outcome::success;
    bool out_of_memory_seen = false;
    std::string out_of_memory_evidence;  // the console line that showed it

    std::vector<ConsoleFinding> console_findings;  // forbidden lines (allow list applied)
    std::vector<std::string> console_tail;         // set when the scenario did not pass
    std::filesystem::path console_log;
    std::filesystem::path work_dir;
    nlohmann::json vm_status;  // query-status at the end (engine, run state)
    std::string vm_end;        // how the VM ended
};

// What a progress display is told. Calls come from the runner's worker
// threads; implementations serialise them.
class ProgressSink {
  public:
    virtual ~ProgressSink() = default;
    virtual void scenario_started(const Scenario& scenario) = 0;
    virtual void step_started(const Scenario& scenario, const Step& step) = 0;
    virtual void step_finished(const Scenario& scenario, const StepResult& result) = 0;
    virtual void scenario_finished(const Scenario& scenario, const ScenarioResult& result) = 0;
};

// A sink that ignores everything.
class NullProgress : public ProgressSink {
  public:
    void scenario_started(const Scenario& /*scenario*/) override {}
    void step_started(const Scenario& /*scenario*/, const Step& /*step*/) override {}
    void step_finished(const Scenario& /*scenario*/, const StepResult& /*result*/) override {}
    void scenario_finished(const Scenario& /*scenario*/,
                           const ScenarioResult& /*result*/) override {}
};

// Control-socket commands the runner itself uses (docs/control-protocol.md).
struct ControlCommands {
    std::string guest_exec = "mshare-guest-exec";
    std::string guest_exec_status = "mshare-guest-exec-status";
    std::string query_status = "query-status";
};

struct RunOptions {
    unsigned jobs = 1;
    // Multiplies every time limit (scenario and step), for slow machines.
    double time_limit_factor = 1.0;
    // Each scenario gets <output_dir>/<file stem>/<scenario name>/ for its logs.
    std::filesystem::path output_dir = "scenario-results";
    std::size_t console_tail_lines = 40;
    double exec_poll_seconds = 0.25;
    double shutdown_grace_seconds = 10;
    ControlCommands commands;
    // When set and true, scenarios not yet started are skipped ("interrupted").
    const std::atomic<bool>* cancel = nullptr;
};

// Runs one scenario to the end. Never throws for anything the scenario or
// the VM does; that all ends up in the result.
ScenarioResult run_scenario(const Scenario& scenario, VmLauncher& launcher,
                            const RunOptions& options, ProgressSink& progress);

// Runs scenarios `options.jobs` at a time; results in the order given.
std::vector<ScenarioResult> run_scenarios(const std::vector<const Scenario*>& scenarios,
                                          VmLauncher& launcher, const RunOptions& options,
                                          ProgressSink& progress);

// Scans console text against a scenario's policy: forbidden lines (minus
// allowed ones), required patterns that never matched (returned as findings
// with line 0), and the first line matching an out-of-memory pattern.
struct ConsoleScan {
    std::vector<ConsoleFinding> forbidden;
    std::vector<std::string> missing_required;
    std::optional<ConsoleFinding> out_of_memory;
    std::size_t lines = 0;
};
ConsoleScan scan_console(std::string_view text, const ConsolePolicy& policy,
                         const ExpectedOutcome& expect);

// The last `lines` lines of `text`.
std::vector<std::string> tail_lines(std::string_view text, std::size_t lines);

}  // namespace mvmm::scenario
