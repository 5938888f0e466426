// `mshare-vmm inspect`: offline analysis of a saved guest memory image.
#pragma once

#include <CLI/CLI.hpp>

namespace mvmm::app {

// Adds the subcommand to `app`; it runs from its callback and throws
// mvmm::Error on failure.
void add_inspect_command(CLI::App& app);

}  // namespace mvmm::app
