// `mshare-vmm run --config FILE`: boots the VM of a config file and runs it
// until the guest ends, a signal arrives, or a stop option fires. Exit
// statuses are documented in docs/cli.md.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

namespace mvmm::app {

// Exit statuses of `mshare-vmm run`.
enum RunExit : int {
    kRunClean = 0,          // the guest ended cleanly, or the VMM stopped it as asked
    kRunError = 1,          // another error of the VMM
    kRunConfigError = 2,    // the config file is missing or invalid
    kRunGuestPanic = 3,     // the guest kernel panicked
    kRunEngineFailure = 4,  // the engine could not start the VM, or failed while it ran
    kRunBootTimeout = 5,    // --boot-timeout passed without the boot-complete marker
};

struct RunOptions {
    std::string config_path;
    bool stop_after_boot = false;
    double stop_after_seconds = 0;    // 0: no limit
    double boot_timeout_seconds = 0;  // 0: no limit
    std::optional<bool> console_stdout;
};

// Adds the subcommand to `app`; the options are filled when it is parsed.
CLI::App* add_run_command(CLI::App& app, RunOptions& options);

// Runs the VM; returns one of RunExit.
int run_vm(const RunOptions& options);

}  // namespace mvmm::app
