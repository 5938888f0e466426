// What the guest itself says about its page tables, as optional input to the
// accounting: /proc/meminfo's PageTables and each process's VmPTE from
// /proc/PID/status. The guest agent collects them; this library only reads
// the data, so it does not depend on the agent.
//
// JSON shape (all keys optional):
//   {"page_tables_bytes": 1249280,
//    "vm_pte_bytes": {"1": 16384, "57": 20480},
//    "collect_seconds": 0.0123}
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string_view>

namespace mvmm {

struct GuestFigures {
    std::optional<std::uint64_t> page_tables_bytes;
    std::map<std::int32_t, std::uint64_t> vm_pte_bytes;  // by pid
    // How long the guest took to produce these (reading /proc/*/status for
    // every process), for comparison with the walk.
    std::optional<double> collect_seconds;

    // Throws Error naming the key if a value has the wrong type.
    static GuestFigures from_json(const nlohmann::json& doc);
    // From the guest agent's replies (docs/guest-agent.md): the "return" of
    // guest-meminfo (PageTables in bytes) and of guest-processes (each
    // process's vm-pte; kernel threads are left out), and the seconds the
    // caller measured around guest-processes.
    static GuestFigures from_agent(const nlohmann::json& meminfo, const nlohmann::json& processes,
                                   std::optional<double> collect_seconds = std::nullopt);
    [[nodiscard]] nlohmann::json to_json() const;

    // "PageTables:  1220 kB" from /proc/meminfo text, in bytes.
    static std::optional<std::uint64_t> parse_meminfo_page_tables(std::string_view meminfo);
    // "VmPTE:  20 kB" from /proc/PID/status text, in bytes (absent for kernel threads).
    static std::optional<std::uint64_t> parse_status_vm_pte(std::string_view status);
};

}  // namespace mvmm
