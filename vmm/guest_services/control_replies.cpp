#include <algorithm>
#include <string>
#include <vector>

#include <mvmm/common/error.hpp>
#include <mvmm/guest_services/control_replies.hpp>

namespace mvmm::guest_services {
namespace {

using nlohmann::json;

constexpr std::uint64_t kBasePage = 4096;

// The member at `key`, or null when it is missing.
json member(const json& object, const char* key) {
    if (object.is_object()) {
        if (const auto it = object.find(key); it != object.end()) {
            return *it;
        }
    }
    return nullptr;
}

std::uint64_t unsigned_member(const json& object, const char* key) {
    const auto v = member(object, key);
    return v.is_number_unsigned() || v.is_number_integer() ? v.get<std::uint64_t>() : 0;
}

// The level names of the report's paging mode, top level first.
std::vector<std::string> levels_of(const json& report) {
    if (member(member(report, "guest"), "paging") == "5-level") {
        return {"pgd", "p4d", "pud", "pmd", "pte"};
    }
    return {"pgd", "pud", "pmd", "pte"};
}

const json& processes_of(const json& report) {
    if (report.is_object()) {
        if (const auto it = report.find("processes"); it != report.end() && it->is_array()) {
            return *it;
        }
    }
    const auto reason = member(report, "processes_absent_reason");
    throw Error(reason.is_string() ? reason.get<std::string>()
                                   : std::string("the report has no processes"));
}

// "consistent" -> true, "inconsistent" -> false, anything else -> null.
json consistency(const json& status) {
    if (status == "consistent") {
        return true;
    }
    if (status == "inconsistent") {
        return false;
    }
    return nullptr;
}

json first_or_null(const json& array) {
    return array.is_array() && !array.empty() ? array.front() : json(nullptr);
}

}  // namespace

json processes_reply(const json& report) {
    json list = json::array();
    for (const auto& p : processes_of(report)) {
        list.push_back({{"pid", member(p, "pid")},
                        {"comm", member(p, "comm")},
                        {"mm", member(p, "mm")},
                        {"pgd", member(p, "root")}});
    }
    return {{"processes", list}};
}

std::optional<json> page_tables_reply(const json& report, std::int64_t pid) {
    for (const auto& p : processes_of(report)) {
        const auto& pids = member(p, "pids");
        if (std::find(pids.begin(), pids.end(), json(pid)) == pids.end()) {
            continue;
        }
        json levels = json::array();
        for (const auto& name : levels_of(report)) {
            const auto t = member(member(p, "tables"), name.c_str());
            const auto own = unsigned_member(t, "own");
            const auto shared = unsigned_member(t, "shared");
            levels.push_back(
                {{"level", name}, {"tables", own + shared}, {"own", own}, {"shared", shared}});
        }
        const auto own = unsigned_member(p, "own_bytes");
        const auto shared = unsigned_member(p, "shared_bytes");
        return json{{"pid", pid},
                    {"comm", member(p, "comm")},
                    {"pgd", member(p, "root")},
                    {"levels", levels},
                    {"own-bytes", own},
                    {"shared-bytes", shared},
                    {"table-bytes", own + shared},
                    {"mapped-bytes", member(p, "mapped_bytes")},
                    {"walked-vm-pte-bytes", member(p, "walked_vm_pte_bytes")},
                    {"kernel-vm-pte-bytes", member(p, "kernel_vm_pte_bytes")}};
    }
    return std::nullopt;
}

json regions_reply(const json& report) {
    const auto mshare = member(report, "mshare");
    json regions = json::array();
    for (const auto& r : member(mshare, "regions")) {
        const auto mapped = unsigned_member(r, "mapped_bytes");
        regions.push_back({{"start", member(r, "va")},
                           {"size", member(r, "size_bytes")},
                           {"host-mm-pgd", member(r, "host_root")},
                           {"mapped-bytes", mapped},
                           {"resident-pages", mapped / kBasePage},
                           {"table-bytes", member(r, "table_bytes")},
                           {"sharers", member(r, "sharers")},
                           {"consistent", consistency(member(r, "status"))}});
    }
    json puds = json::array();
    bool all_consistent = true;
    bool any_unknown = false;
    for (const auto& s : member(mshare, "shared_puds")) {
        const auto below = member(s, "below");
        const auto tables = member(below, "tables");
        const auto ok = consistency(member(s, "status"));
        puds.push_back({{"table", member(s, "table")},
                        {"host-mm-pgd", first_or_null(member(s, "host_roots"))},
                        {"sharers", member(s, "sharers")},
                        {"task-roots", member(s, "linked_task_roots")},
                        {"share-count", member(s, "share_count")},
                        {"consistent", ok},
                        {"pmd-tables", unsigned_member(tables, "pmd")},
                        {"pte-tables", unsigned_member(tables, "pte")},
                        {"pages", unsigned_member(below, "mapped_bytes") / kBasePage}});
        if (ok.is_null()) {
            any_unknown = true;
        } else {
            all_consistent = all_consistent && ok.get<bool>();
        }
    }
    // Known to be consistent only if every table was checked and agreed.
    json overall = all_consistent ? (any_unknown ? json(nullptr) : json(true)) : json(false);
    return {{"regions", regions}, {"shared-puds", puds}, {"consistent", overall}};
}

json accounting_reply(const json& report) {
    json processes = json::array();
    if (const auto it = report.find("processes"); it != report.end() && it->is_array()) {
        for (const auto& p : *it) {
            processes.push_back({{"pid", member(p, "pid")},
                                 {"comm", member(p, "comm")},
                                 {"own-bytes", member(p, "own_bytes")},
                                 {"shared-bytes", member(p, "shared_bytes")},
                                 {"vm-pte-bytes", member(p, "guest_vm_pte_bytes")},
                                 {"walked-vm-pte-bytes", member(p, "walked_vm_pte_bytes")},
                                 {"kernel-vm-pte-bytes", member(p, "kernel_vm_pte_bytes")}});
        }
    }
    const auto t = member(report, "totals");
    const auto tol = member(t, "tolerance");
    json totals{{"walked-bytes", unsigned_member(member(t, "unique_table_bytes"), "total")},
                {"comparable-bytes", member(t, "page_tables_comparable_bytes")},
                {"expected-page-tables-bytes", member(tol, "expected_bytes")},
                {"page-tables-low-bytes", member(tol, "low_bytes")},
                {"page-tables-high-bytes", member(tol, "high_bytes")},
                {"guest-page-tables-bytes", member(t, "guest_page_tables_bytes")},
                {"within-tolerance", member(tol, "within")},
                {"unshared-bytes", member(t, "bytes_without_sharing")},
                {"savings-bytes", member(t, "savings_bytes")},
                {"savings-ratio", member(t, "savings_fraction")}};
    if (totals["guest-page-tables-bytes"].is_null()) {
        totals["guest-page-tables-absent"] = member(t, "guest_page_tables_absent_reason");
    }
    const auto host = member(report, "host");
    json out{{"processes", processes},
             {"totals", totals},
             {"host",
              {{"guest-ram-resident-bytes", member(host, "guest_ram_resident_bytes")},
               {"vmm-vm-pte-bytes", member(host, "vmm_vm_pte_bytes")}}}};
    if (!report.contains("processes") || !member(report, "processes").is_array()) {
        out["processes-absent"] = member(report, "processes_absent_reason");
    }
    const auto kvm = member(report, "kvm");
    if (kvm.contains("absent_reason")) {
        out["kvm-absent"] = member(kvm, "absent_reason");
    } else {
        const auto second = member(kvm, "second_level");
        out["kvm"] = {{"pages-4k", member(second, "pages_4k")},
                      {"pages-2m", member(second, "pages_2m")},
                      {"pages-1g", member(second, "pages_1g")},
                      {"second-level-table-bytes", member(second, "implied_table_bytes")}};
    }
    const auto source = member(report, "source");
    out["pause-seconds"] = member(source, "pause_seconds");
    out["live"] = member(source, "consistency") == "live";
    out["anomalies"] = unsigned_member(member(report, "anomalies"), "total");
    const auto walk = member(report, "walk");
    out["walk"] = {{"seconds", member(walk, "seconds")},
                   {"analysis-seconds", member(walk, "analysis_seconds")},
                   {"table-bytes-per-second", member(walk, "table_bytes_per_second")},
                   {"guest-collect-seconds", member(walk, "guest_collect_seconds")}};
    return out;
}

json dirty_reply(const json& dirty_report) {
    const auto pfns = member(dirty_report, "pfns");
    json out{{"count", pfns.is_array() ? pfns.size() : 0},
             {"pfns", pfns.is_array() ? pfns : json::array()},
             {"page-table-pages", member(dirty_report, "page_table")},
             {"kernel-page-table-pages", member(dirty_report, "kernel_page_table")},
             {"user-data-pages", member(dirty_report, "user_data")},
             {"other-pages", member(dirty_report, "other")},
             {"interval-seconds", member(dirty_report, "interval_seconds")},
             {"pause-seconds", member(dirty_report, "pause_seconds")}};
    if (const auto why = member(dirty_report, "classification_error"); why.is_string()) {
        out["classification-absent"] = why;
    }
    return out;
}

}  // namespace mvmm::guest_services
