// The qemu-system-x86_64 command line of the QEMU engine.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include <mvmm/config/vm_config.hpp>

namespace mvmm {

// The id of the memory backend that holds guest RAM; it is also the name of
// its region in `info mtree -f`.
inline constexpr std::string_view kQemuRamBackendId = "mvmm-ram";

// What the engine prepared for one QEMU process.
struct QemuLaunch {
    std::string binary;              // the program, as found in PATH
    std::filesystem::path ram_file;  // memory-backend-file mem-path (created by QEMU)
    int qmp_fd = -1;                 // connected sockets QEMU inherits
    int console_fd = -1;
    int marker_fd = -1;
    std::filesystem::path agent_socket;  // QEMU listens here for the agent client
};

// The kernel command line the engine puts before the config's own: the console
// on COM1, and reboot at once on panic (QEMU runs with -no-reboot, so a panic
// ends the VM).
std::string qemu_default_cmdline();

// The full argument vector (argv[0] = launch.binary). The VM starts paused
// (-S) so the engine can map RAM before the first guest instruction.
std::vector<std::string> qemu_command_line(const VmConfig& config, const QemuLaunch& launch);

// A value for a QEMU "key=value,..." option: commas doubled.
std::string qemu_option_value(std::string_view text);

}  // namespace mvmm
