#include <cctype>
#include <charconv>
#include <nlohmann/json.hpp>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/guest_figures.hpp>

namespace mvmm {
namespace {

// The value of "Key:   123 kB" in /proc-style text, in bytes.
std::optional<std::uint64_t> kb_field(std::string_view text, std::string_view key) {
    for (const auto& line : split(text, '\n')) {
        const std::string_view l(line);
        if (!starts_with(l, key) || l.size() <= key.size() || l[key.size()] != ':') {
            continue;
        }
        const auto rest = trim(l.substr(key.size() + 1));
        std::uint64_t value = 0;
        const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
        if (ec != std::errc{}) {
            return std::nullopt;
        }
        const auto unit = trim(std::string_view(end, rest.data() + rest.size() - end));
        if (unit == "kB") {
            return value * 1024;
        }
        if (unit.empty()) {
            return value;
        }
        return std::nullopt;
    }
    return std::nullopt;
}

std::uint64_t unsigned_value(const nlohmann::json& v, std::string_view key) {
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<std::int64_t>() >= 0)) {
        throw Error(cat("guest figures: ", quote(key), " must be a non-negative integer, not ",
                        v.type_name()));
    }
    return v.get<std::uint64_t>();
}

}  // namespace

GuestFigures GuestFigures::from_json(const nlohmann::json& doc) {
    if (!doc.is_object()) {
        throw Error(cat("guest figures: expected a JSON object, not ", doc.type_name()));
    }
    GuestFigures f;
    if (const auto it = doc.find("page_tables_bytes"); it != doc.end() && !it->is_null()) {
        f.page_tables_bytes = unsigned_value(*it, "page_tables_bytes");
    }
    if (const auto it = doc.find("vm_pte_bytes"); it != doc.end() && !it->is_null()) {
        if (!it->is_object()) {
            throw Error("guest figures: 'vm_pte_bytes' must be an object of pid -> bytes");
        }
        for (const auto& [pid_text, bytes] : it->items()) {
            std::int32_t pid = 0;
            const auto [end, ec] =
                std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid);
            if (ec != std::errc{} || end != pid_text.data() + pid_text.size()) {
                throw Error(
                    cat("guest figures: 'vm_pte_bytes' key ", quote(pid_text), " is not a pid"));
            }
            f.vm_pte_bytes[pid] = unsigned_value(bytes, cat("vm_pte_bytes.", pid_text));
        }
    }
    if (const auto it = doc.find("collect_seconds"); it != doc.end() && !it->is_null()) {
        if (!it->is_number()) {
            throw Error("guest figures: 'collect_seconds' must be a number");
        }
        f.collect_seconds = it->get<double>();
    }
    return f;
}

GuestFigures GuestFigures::from_agent(const nlohmann::json& meminfo,
                                      const nlohmann::json& processes,
                                      std::optional<double> collect_seconds) {
    GuestFigures f;
    f.collect_seconds = collect_seconds;
    if (meminfo.is_object()) {
        if (const auto it = meminfo.find("PageTables"); it != meminfo.end()) {
            f.page_tables_bytes = unsigned_value(*it, "guest-meminfo PageTables");
        }
    }
    const auto& list = processes.is_object() && processes.contains("processes")
                           ? processes["processes"]
                           : processes;
    if (!list.is_array()) {
        throw Error("guest figures: guest-processes did not return a list of processes");
    }
    for (const auto& p : list) {
        if (!p.is_object() || !p.contains("pid") || !p.contains("vm-pte") ||
            p.value("kernel-thread", false)) {
            continue;
        }
        f.vm_pte_bytes[p["pid"].get<std::int32_t>()] = unsigned_value(p["vm-pte"], "vm-pte");
    }
    return f;
}

nlohmann::json GuestFigures::to_json() const {
    nlohmann::json out = nlohmann::json::object();
    if (page_tables_bytes) {
        out["page_tables_bytes"] = *page_tables_bytes;
    }
    nlohmann::json ptes = nlohmann::json::object();
    for (const auto& [pid, bytes] : vm_pte_bytes) {
        ptes[std::to_string(pid)] = bytes;
    }
    out["vm_pte_bytes"] = ptes;
    if (collect_seconds) {
        out["collect_seconds"] = *collect_seconds;
    }
    return out;
}

std::optional<std::uint64_t> GuestFigures::parse_meminfo_page_tables(std::string_view meminfo) {
    return kb_field(meminfo, "PageTables");
}

std::optional<std::uint64_t> GuestFigures::parse_status_vm_pte(std::string_view status) {
    return kb_field(status, "VmPTE");
}

}  // namespace mvmm
