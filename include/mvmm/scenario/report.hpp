// Reports of a scenario run: JUnit XML for CI systems (a testsuite per file,
// a testcase per scenario, failures with the console tail) and JSON with
// every measured figure (saved results, step timings, events).
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include <mvmm/scenario/runner.hpp>

namespace mvmm::scenario {

// Where and how the run happened, for the reports' headers.
struct RunInfo {
    std::string started_at;  // ISO 8601, UTC
    double seconds = 0;
    std::string command_line;
    unsigned jobs = 1;
    double time_limit_factor = 1;
    nlohmann::json host = nlohmann::json::object();  // describe_host()
};

// The machine: host name, CPU model and count, memory, kernel release,
// whether /dev/kvm exists.
nlohmann::json describe_host();

// "mshare-vmm-scenario-report/1". docs/scenarios.md describes the layout.
nlohmann::json json_report(const std::vector<ScenarioResult>& results, const RunInfo& info);

// The JSON report as text, indented; invalid UTF-8 from the guest (console
// lines, program output) is replaced, never an exception.
std::string json_text(const nlohmann::json& report);

std::string junit_report(const std::vector<ScenarioResult>& results, const RunInfo& info);

// Text and attribute-value escaping for XML 1.0: & < > " ' become entities;
// characters XML cannot carry (most control characters, invalid UTF-8) become
// "\xNN" text, so console output with escape sequences stays well-formed.
std::string xml_escape(std::string_view text);

// Writes `content` to `file` through a temporary file and a rename, so a
// reader never sees half a report. Makes the parent folder. Throws Error.
void write_file_atomically(const std::filesystem::path& file, std::string_view content);

}  // namespace mvmm::scenario
