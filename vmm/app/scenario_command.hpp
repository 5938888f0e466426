// `mshare-vmm scenario FILE...`: runs scenario files (docs/scenarios.md),
// each scenario in its own VM, with a progress display, JUnit XML and JSON
// reports, and an exit status for CI (docs/ci.md).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace mvmm::app {

// Exit statuses of `mshare-vmm scenario`.
enum ScenarioExit : int {
    kScenarioPassed = 0,         // every scenario passed (or was skipped)
    kScenarioFailed = 1,         // a scenario failed or could not be run
    kScenarioBadFile = 2,        // a scenario file is missing or invalid
    kScenarioInterrupted = 130,  // SIGINT or SIGTERM
};

struct ScenarioOptions {
    std::vector<std::string> files;
    unsigned jobs = 1;
    std::string output_dir = "scenario-results";
    std::string junit;  // default <output_dir>/junit.xml
    std::string json;   // default <output_dir>/report.json
    std::string filter;
    double time_limit_factor = 1;
    std::string vmm;  // default: this binary
    bool check = false;
    bool list = false;
    bool plain = false;
    int exit_skipped = 0;  // exit status when nothing failed but something was skipped
};

CLI::App* add_scenario_command(CLI::App& app, ScenarioOptions& options);

// Returns one of ScenarioExit (or exit_skipped).
int run_scenario_command(const ScenarioOptions& options, int argc, char** argv);

}  // namespace mvmm::app
