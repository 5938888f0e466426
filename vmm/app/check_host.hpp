// `mshare-vmm check-host`: runs the KVM host check and prints its result.
#pragma once

#include <CLI/CLI.hpp>

namespace mvmm::app {

void add_check_host_command(CLI::App& app);

}  // namespace mvmm::app
