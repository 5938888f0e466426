// The VM config file (JSON), parsed and validated. Every field is documented
// in docs/config.md.
#pragma once

#include <cstdint>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm {

enum class EngineChoice { automatic, kvm, qemu };
// "auto", "kvm", "qemu".
std::string_view to_string(EngineChoice choice);

struct QemuOptions {
    std::string binary = "qemu-system-x86_64";  // looked up in PATH if not absolute
    std::string machine = "microvm";            // "microvm" or "q35"
    std::string accel = "tcg";                  // "tcg" or "kvm"
    std::vector<std::string> extra_args;        // appended to QEMU's command line
};

struct VmConfig {
    // The config file this came from (absolute); relative paths resolve against its folder.
    std::filesystem::path source;
    std::string name = "guest";  // [A-Za-z0-9_.-]{1,64}; names runtime files

    std::filesystem::path kernel;                    // bzImage or vmlinux ELF; must exist
    std::optional<std::filesystem::path> initramfs;  // must exist if given
    std::string cmdline;             // appended to the engine's default command line
    unsigned vcpus = 1;              // kMinVcpus..kMaxVcpus
    std::uint64_t memory_mib = 512;  // kMinMemoryMib..kMaxMemoryMib

    EngineChoice engine = EngineChoice::automatic;
    QemuOptions qemu;

    // Empty paths mean "in the VMM's private runtime folder".
    std::filesystem::path control_socket;
    std::filesystem::path console_log;
    std::filesystem::path agent_socket;
    bool console_stdout = false;  // echo the guest console to stdout

    std::optional<std::filesystem::path> profile;  // introspection profile; must exist if given

    static constexpr unsigned kMinVcpus = 1;
    static constexpr unsigned kMaxVcpus = 64;
    static constexpr std::uint64_t kMinMemoryMib = 64;
    static constexpr std::uint64_t kMaxMemoryMib = 1024ULL * 1024;  // 1 TiB
};

// Parses and validates a config file. Throws Error with a message that names
// the file and, as applicable, the JSON path, line and column, missing path,
// or the allowed range.
VmConfig load_vm_config(const std::filesystem::path& file);

// Same, from JSON already parsed; `source` is used for messages and to resolve
// relative paths (its parent folder). `json_path` prefixes field names in
// messages (for configs embedded in scenario files).
VmConfig parse_vm_config(const nlohmann::json& doc, const std::filesystem::path& source,
                         std::string_view json_path = "");

// The config as JSON, with absolute paths (for logs and reports).
nlohmann::json to_json(const VmConfig& config);

}  // namespace mvmm
