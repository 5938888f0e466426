// What the agent reads about the guest from /proc and /sys. The parsers take
// text or a root folder, so unit tests feed them fixed input.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace mvmm::agent {

// /proc/meminfo -> {"MemTotal": 1048576000, "PageTables": 1234944, ...}:
// every field, "kB" values converted to bytes, unitless counts as they are.
// Lines that do not parse are skipped.
nlohmann::json parse_meminfo(std::string_view text);

// The GNU build id (NT_GNU_BUILD_ID) from the raw bytes of
// /sys/kernel/notes, as lowercase hex; nullopt if there is none.
std::optional<std::string> parse_build_id(std::string_view notes);

// One process from the text of /proc/PID/stat and /proc/PID/status.
// nullopt if the stat text does not parse.
std::optional<nlohmann::json> parse_process(int pid, std::string_view stat,
                                            std::string_view status);

// Every process under `proc_root` (normally /proc), sorted by pid. Processes
// that exit while being read are left out.
nlohmann::json list_processes(const std::filesystem::path& proc_root);

// Whole small file, or nullopt if it cannot be read (at most `limit` bytes).
std::optional<std::string> read_small_file(const std::filesystem::path& file,
                                           std::size_t limit = 1 << 20);

}  // namespace mvmm::agent
