// `mshare-vmm plot REPORT... -o FILE.svg --x PTR --y PTR`: SVG line or bar
// charts (and a Markdown table) from scenario JSON reports, for
// docs/results.md. Options are documented in docs/scenarios.md.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace mvmm::app {

struct PlotOptions {
    std::vector<std::string> reports;
    std::string output;
    std::string table;  // "" none, "-" stdout, else a file
    std::string x;
    std::string y;
    std::string series;
    std::string series_prefix;  // put before each series name in the legend, e.g. "N="
    std::string each;
    std::string y_divide_by;
    double y_scale = 1;
    std::vector<std::string> where;  // POINTER=VALUE
    bool log_x = false;
    bool log_y = false;
    bool bar = false;
    bool include_failed = false;
    std::string title;
    std::string x_label;
    std::string y_label;
};

CLI::App* add_plot_command(CLI::App& app, PlotOptions& options);

// Returns the exit status: 0, or 1 after printing the error.
int run_plot(const PlotOptions& options);

}  // namespace mvmm::app
