// Scenario files: what a scenario run boots, does and checks. Parsed
// strictly: an unknown key, step type or bad assertion is an Error that names
// the file, the scenario, the step (index and name) and the field. The format
// is documented in docs/scenarios.md.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <mvmm/config/vm_config.hpp>
#include <mvmm/scenario/assertion.hpp>

namespace mvmm::scenario {

enum class StepType {
    exec,
    exec_wait,
    query,
    wait_event,
    wait_until,
    pause,
    resume,
    sleep,
    check,
    require,
};

// "exec", "exec_wait", "query", "wait_event", "wait_until", "pause", "resume",
// "sleep", "check", "require".
std::string_view to_string(StepType type);

// How an exec step's standard output is kept in its result.
enum class OutputFormat {
    text,        // "stdout": the text
    json,        // also "json": stdout parsed as one JSON document
    json_lines,  // also "json": an array, one element per non-empty line
};

struct Step {
    StepType type = StepType::sleep;
    std::size_t index = 0;  // position in the scenario's step list (setup steps first)
    std::string name;       // given, or made from the type and main argument
    std::string field;      // where it is in the file, e.g. "/scenarios/0/steps/3"
    std::optional<double> timeout_seconds;  // default: the time the scenario has left
    std::string save;                       // saves the result under this name
    std::vector<Assertion> asserts;         // checked against the result
    bool always = false;  // runs even after an earlier step failed (reports, teardown)

    // exec
    std::string path;
    std::vector<std::string> args;
    std::vector<std::string> env;
    std::optional<int> expect_exit = 0;  // nullopt: any exit status is fine
    OutputFormat output = OutputFormat::text;
    bool background = false;  // start it and go on; an exec_wait step collects it

    // exec_wait: the background exec step (by its save name, and its index)
    std::string exec;
    std::size_t exec_step = 0;

    // query, wait_until
    std::string command;
    nlohmann::json arguments = nlohmann::json::object();
    // wait_until: poll every interval_seconds until every `asserts` holds
    // (or, with none, until the command succeeds)
    double interval_seconds = 1.0;

    // wait_event: an event of this name whose data contains `event_data`
    std::string event;
    nlohmann::json event_data = nlohmann::json::object();

    // sleep
    double sleep_seconds = 0;

    // require: the scenario is skipped (not failed) unless the VMM answers
    // every command in `commands` (query-commands) and every path in
    // `guest_paths` exists in the guest. `reason` is added to the skip reason.
    std::vector<std::string> commands;
    std::vector<std::string> guest_paths;
    std::string reason;
};

// Console lines that fail a scenario, as regular expressions (ECMAScript).
struct ConsolePolicy {
    bool defaults = true;              // the built-in list (default_forbidden_patterns)
    std::vector<std::string> forbid;   // added to the defaults
    std::vector<std::string> allow;    // lines matching these never fail the scenario
    std::vector<std::string> require;  // each must match at least one line
};

// What the scenario's guest is expected to end in.
enum class Outcome {
    success,        // every step passes
    out_of_memory,  // the guest runs out of memory (OOM killer or allocation failure)
};
// "success", "out-of-memory".
std::string_view to_string(Outcome outcome);

struct ExpectedOutcome {
    Outcome outcome = Outcome::success;
    // out-of-memory: console patterns that detect it (default_oom_patterns()).
    std::vector<std::string> patterns;
};

struct Scenario {
    std::filesystem::path file;  // the scenario file (absolute)
    std::size_t index = 0;       // position in the file (after matrix expansion)
    std::string name;            // unique in its file
    std::string description;
    nlohmann::json parameters = nlohmann::json::object();  // this scenario's matrix values

    // The VM. Empty when a prerequisite (kernel, initramfs, profile file) is
    // missing: then skip_reason says which, and the scenario is skipped.
    std::optional<VmConfig> vm;
    std::string skip_reason;

    double time_limit_seconds = 900;
    std::vector<Step> steps;
    ConsolePolicy console;
    ExpectedOutcome expect;
};

struct ScenarioFile {
    std::filesystem::path path;  // absolute
    std::string description;
    std::vector<Scenario> scenarios;
};

// Parses and validates a scenario file. Throws Error naming the file and, as
// applicable, the scenario, the step (index and name) and the field.
ScenarioFile load_scenario_file(const std::filesystem::path& file);
ScenarioFile parse_scenario_file(const nlohmann::json& doc, const std::filesystem::path& file);

// The console lines that fail any scenario unless its console policy turns
// the defaults off: kernel bugs, warnings, sanitizer and lockdep reports,
// oopses and panics.
const std::vector<std::string>& default_forbidden_patterns();
// The console lines that show the guest ran out of memory.
const std::vector<std::string>& default_oom_patterns();

}  // namespace mvmm::scenario
