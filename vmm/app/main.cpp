// mshare-vmm: the command-line entry point. Each subcommand lives in its own
// file under vmm/app/ and registers itself here.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/config/vm_config.hpp>

#include "check_host.hpp"
#include "ctl_command.hpp"
#include "inspect.hpp"
#include "plot_command.hpp"
#include "run_command.hpp"
#include "scenario_command.hpp"

namespace {

int run_cli(int argc, char** argv) {
    CLI::App app{"mshare-vmm: a small VMM for studying page-table sharing (mshare) in Linux"};
    app.require_subcommand(1);
    bool verbose = false;
    app.add_flag("-v,--verbose", verbose, "Log debug messages");

    auto* check = app.add_subcommand("check-config", "Validate a VM config file and print it");
    std::string config_path;
    check->add_option("config", config_path, "VM config file (JSON)")->required();
    mvmm::app::add_check_host_command(app);
    mvmm::app::add_inspect_command(app);

    mvmm::app::CtlCommand ctl(app);
    mvmm::app::PlotOptions plot_options;
    auto* plot = mvmm::app::add_plot_command(app, plot_options);
    mvmm::app::ScenarioOptions scenario_options;
    auto* scenario = mvmm::app::add_scenario_command(app, scenario_options);

    mvmm::app::RunOptions run_options;
    auto* run = mvmm::app::add_run_command(app, run_options);

    CLI11_PARSE(app, argc, argv);
    if (verbose) {
        mvmm::log::set_level(mvmm::log::Level::debug);
    }
    if (ctl.selected()) {
        return ctl.run();
    }
    if (*run) {
        return mvmm::app::run_vm(run_options);
    }
    if (*plot) {
        return mvmm::app::run_plot(plot_options);
    }
    if (*scenario) {
        return mvmm::app::run_scenario_command(scenario_options, argc, argv);
    }
    try {
        if (*check) {
            const auto config = mvmm::load_vm_config(config_path);
            std::cout << mvmm::to_json(config).dump(2) << "\n";
            return 0;
        }
    } catch (const mvmm::Error& e) {
        std::fprintf(stderr, "mshare-vmm: %s\n", e.what());
        return 1;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return run_cli(argc, argv);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "mshare-vmm: %s\n", e.what());
        return 1;
    }
}
