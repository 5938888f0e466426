#include <algorithm>
#include <map>
#include <set>
#include <unordered_map>

#include <mvmm/common/strings.hpp>
#include <mvmm/introspect/accounting.hpp>

namespace mvmm {
namespace {

using nlohmann::json;
using walker::PagingMode;
using walker::PerLevel;

constexpr std::uint64_t kTable = walker::kTableBytes;

std::string level_key(int level, PagingMode mode) {
    return std::string(walker::level_name(level, mode));
}

// {"pgd": n, "pud": n, ...} from the top level down, values scaled by `unit`.
json per_level(const PerLevel& counts, PagingMode mode, std::uint64_t unit) {
    json out = json::object();
    std::uint64_t total = 0;
    for (int level = walker::top_level(mode); level >= 1; --level) {
        const auto v = counts[static_cast<std::size_t>(level)] * unit;
        out[level_key(level, mode)] = v;
        total += v;
    }
    out["total"] = total;
    return out;
}

std::uint64_t sum(const PerLevel& counts) {
    std::uint64_t total = 0;
    for (const auto c : counts) {
        total += c;
    }
    return total;
}

json leaves_json(const PerLevel& leaves) {
    return {{"4k", leaves[1]}, {"2m", leaves[2]}, {"1g", leaves[3]}};
}

json tables_own_shared(const walker::RootSummary& r, PagingMode mode) {
    json out = json::object();
    for (int level = walker::top_level(mode); level >= 1; --level) {
        const auto l = static_cast<std::size_t>(level);
        out[level_key(level, mode)] = {{"own", r.own_tables[l]}, {"shared", r.shared_tables[l]}};
    }
    return out;
}

std::string owner_name(RootOwner owner) {
    switch (owner) {
        case RootOwner::task:
            return "task";
        case RootOwner::unowned:
            return "unowned";
        case RootOwner::unknown:
            return "unknown";
    }
    return "unknown";
}

json pid_or_null(const Analysis& a, std::uint32_t root) {
    const auto& info = a.roots[root];
    if (info.process && a.processes) {
        return a.processes->processes[*info.process].pids.front();
    }
    return nullptr;
}

}  // namespace

std::uint64_t implied_table_bytes(std::uint64_t pages_4k, std::uint64_t pages_2m,
                                  std::uint64_t pages_1g) {
    const auto tables = [](std::uint64_t entries) { return (entries + 511) / 512; };
    const auto pt = tables(pages_4k);
    const auto pd = tables(pages_2m + pt);
    const auto pdpt = tables(pages_1g + pd);
    const auto pml4 = pdpt > 0 ? tables(pdpt) : 0;
    return (pt + pd + pdpt + pml4) * kTable;
}

json accounting_json(const Analysis& a, const GuestFigures* guest) {
    const auto mode = a.mode;
    const auto& walk = a.walk;
    json out;
    out["format"] = kAccountingFormat;

    // The guest as understood.
    json g;
    g["paging"] = mode == PagingMode::five_level ? "5-level" : "4-level";
    g["paging_source"] = a.mode_source;
    g["pti"] = a.pti;
    g["pti_source"] = a.pti_source;
    g["reference_root"] = a.reference_root ? json(hex(*a.reference_root)) : json(nullptr);
    g["reference_source"] = a.reference_source;
    if (a.profile_path) {
        json p;
        p["path"] = *a.profile_path;
        if (a.profile_check) {
            p["build_id_checked"] = a.profile_check->build_id_checked;
            p["banner_checked"] = a.profile_check->banner_checked;
            p["guest_banner"] = a.profile_check->guest_banner;
            if (!a.profile_check->guest_build_id.empty()) {
                p["guest_build_id"] = a.profile_check->guest_build_id;
            }
        } else {
            p["checked"] = false;
        }
        g["profile"] = p;
    } else {
        g["profile"] = nullptr;
    }
    if (a.kernel) {
        g["kernel"] = {{"phys_base", hex(a.kernel->phys_base)},
                       {"page_offset", hex(a.kernel->page_offset)},
                       {"vmemmap_base", hex(a.kernel->vmemmap_base)},
                       {"kernel_root", hex(a.kernel->kernel_root)}};
    } else {
        g["kernel"] = nullptr;
    }
    out["guest"] = g;

    // Roots.
    std::map<RootOwner, std::size_t> owners;
    std::size_t empty = 0;
    for (const auto& r : a.roots) {
        ++owners[r.owner];
        empty += r.empty ? 1 : 0;
    }
    json roots{{"source", a.root_source},
               {"walked", a.roots.size()},
               {"task", owners[RootOwner::task]},
               {"unowned", owners[RootOwner::unowned]},
               {"unknown", owners[RootOwner::unknown]},
               {"empty", empty},
               {"free_skipped", a.free_roots_skipped},
               {"kernel_alias_skipped", a.kernel_alias_skipped}};
    if (a.scan) {
        roots["scan"] = {{"pages_scanned", a.scan->pages_scanned},
                         {"pages_not_resident_skipped", a.scan->pages_skipped},
                         {"found", a.scan->roots.size()},
                         {"reference_kernel_entries", a.scan->reference_kernel_entries},
                         {"truncated", a.scan->truncated}};
    } else {
        roots["scan"] = nullptr;
    }
    out["roots"] = roots;

    // Processes.
    std::uint64_t kernel_vm_pte_sum = 0;
    bool have_kernel_vm_pte = false;
    if (a.processes) {
        json procs = json::array();
        for (std::size_t i = 0; i < a.roots.size(); ++i) {
            const auto& info = a.roots[i];
            if (info.owner != RootOwner::task || !info.process) {
                continue;
            }
            const auto& p = a.processes->processes[*info.process];
            const auto& s = walk.roots()[i];
            json e;
            e["pid"] = p.pids.front();
            e["pids"] = p.pids;
            e["comm"] = p.comm;
            e["mm"] = hex(p.mm);
            e["root"] = hex(info.phys);
            e["tables"] = tables_own_shared(s, mode);
            e["own_bytes"] = sum(s.own_tables) * kTable;
            e["shared_bytes"] = sum(s.shared_tables) * kTable;
            e["mapped_bytes"] = s.mapped_bytes;
            e["pages"] = leaves_json(s.leaves);
            const auto walked_vm_pte =
                (s.own_tables[1] + s.own_tables[2] + s.own_tables[3]) * kTable;
            e["walked_vm_pte_bytes"] = walked_vm_pte;
            if (p.pgtables_bytes) {
                e["kernel_vm_pte_bytes"] = *p.pgtables_bytes;
                e["vm_pte_difference_bytes"] =
                    *p.pgtables_bytes - static_cast<std::int64_t>(walked_vm_pte);
                kernel_vm_pte_sum +=
                    static_cast<std::uint64_t>(std::max<std::int64_t>(0, *p.pgtables_bytes));
                have_kernel_vm_pte = true;
            } else {
                e["kernel_vm_pte_bytes"] = nullptr;
            }
            json guest_pte = nullptr;
            if (guest != nullptr) {
                for (const auto pid : p.pids) {
                    if (const auto it = guest->vm_pte_bytes.find(pid);
                        it != guest->vm_pte_bytes.end()) {
                        guest_pte = it->second;
                        break;
                    }
                }
            }
            e["guest_vm_pte_bytes"] = guest_pte;
            procs.push_back(e);
        }
        out["processes"] = procs;
        out["task_list"] = {{"tasks", a.processes->tasks},
                            {"kernel_threads", a.processes->kernel_threads},
                            {"complete", a.processes->complete},
                            {"problems", a.processes->problems}};
    } else {
        out["processes"] = nullptr;
        out["processes_absent_reason"] = "no profile: processes cannot be named without symbols";
    }

    // Roots no task owns (or, without a profile, every root).
    {
        std::set<std::uint32_t> linking;
        for (const auto& s : a.shared_puds) {
            for (const auto r : s.host_roots) {
                linking.insert(r);
            }
            for (const auto r : s.unknown_roots) {
                linking.insert(r);
            }
        }
        json list = json::array();
        for (std::size_t i = 0; i < a.roots.size(); ++i) {
            const auto& info = a.roots[i];
            if (info.owner == RootOwner::task || info.empty) {
                continue;
            }
            const auto& s = walk.roots()[i];
            list.push_back(
                {{"root", hex(info.phys)},
                 {"owner", owner_name(info.owner)},
                 {"tables", tables_own_shared(s, mode)},
                 {"own_bytes", sum(s.own_tables) * kTable},
                 {"shared_bytes", sum(s.shared_tables) * kTable},
                 {"mapped_bytes", s.mapped_bytes},
                 {"links_shared_pud", linking.count(static_cast<std::uint32_t>(i)) != 0}});
        }
        out[a.processes ? "unowned_roots" : "roots_found"] = list;
    }

    // Totals.
    json t;
    const auto unique = walk.unique_tables();
    t["unique_table_bytes"] = per_level(unique, mode, kTable);
    t["unique_table_pages"] = per_level(unique, mode, 1);
    const auto unique_bytes = sum(unique) * kTable;
    // Without sharing, every sharer (task roots; without a profile every
    // root) would hold its own copy of each table it reaches.
    std::unordered_map<std::uint32_t, std::uint64_t> sharers_by_set;
    std::uint64_t without = 0;
    for (std::uint32_t id = 0; id < walk.nodes().size(); ++id) {
        const auto& n = walk.nodes()[id];
        auto it = sharers_by_set.find(n.root_set);
        if (it == sharers_by_set.end()) {
            std::uint64_t count = 0;
            for (const auto r : walk.roots_of(id)) {
                count += (a.roots[r].owner != RootOwner::unowned) ? 1 : 0;
            }
            it = sharers_by_set.emplace(n.root_set, count).first;
        }
        without += std::max<std::uint64_t>(1, it->second) * n.pages * kTable;
    }
    t["bytes_without_sharing"] = without;
    t["savings_bytes"] = without - std::min(without, unique_bytes);
    t["savings_ratio"] =
        unique_bytes > 0 ? static_cast<double>(without) / static_cast<double>(unique_bytes) : 1.0;
    t["savings_fraction"] = without > 0
                                ? static_cast<double>(without - std::min(without, unique_bytes)) /
                                      static_cast<double>(without)
                                : 0.0;
    const auto comparable = (unique[1] + unique[2] + unique[3]) * kTable;
    t["page_tables_comparable_bytes"] = comparable;
    t["kernel_vm_pte_bytes_sum"] = have_kernel_vm_pte ? json(kernel_vm_pte_sum) : json(nullptr);
    // Tolerance against the guest's PageTables (docs/introspection.md).
    const auto deposited_max = walk.roots().empty() ? 0 : [&] {
        std::uint64_t leaves_2m = 0;
        for (const auto& n : walk.nodes()) {
            leaves_2m += n.level == 2 ? n.leaves : 0;
        }
        return leaves_2m * kTable;
    }();
    std::uint64_t kernel_counted_max = 0;
    if (a.kernel_walk) {
        const auto& k = a.kernel_walk->unique_tables();
        kernel_counted_max = (k[2] + k[3]) * kTable;
    }
    json tol{{"low_bytes", comparable},
             {"expected_bytes", comparable + kernel_counted_max},
             {"high_bytes", comparable + deposited_max + kernel_counted_max},
             {"thp_deposit_max_bytes", deposited_max},
             {"kernel_tables_max_bytes", kernel_counted_max}};
    if (guest != nullptr && guest->page_tables_bytes) {
        const auto pt = *guest->page_tables_bytes;
        t["guest_page_tables_bytes"] = pt;
        t["guest_minus_walked_bytes"] =
            static_cast<std::int64_t>(pt) - static_cast<std::int64_t>(comparable);
        tol["within"] = pt >= comparable && pt <= comparable + deposited_max + kernel_counted_max;
    } else {
        t["guest_page_tables_bytes"] = nullptr;
        t["guest_page_tables_absent_reason"] =
            "no guest figures given (the guest agent supplies /proc/meminfo PageTables)";
        tol["within"] = nullptr;
    }
    t["tolerance"] = tol;
    if (a.kernel_walk) {
        t["kernel_half_table_bytes"] = per_level(a.kernel_walk->unique_tables(), mode, kTable);
    }
    out["totals"] = t;

    // Shared tables and mshare.
    out["shared_tables"] = {{"pages_by_level", per_level(a.shared_tables, mode, 1)}};
    json puds = json::array();
    bool all_consistent = true;
    bool any_known = false;
    for (const auto& s : a.shared_puds) {
        json links = json::array();
        for (const auto& l : s.links) {
            links.push_back({{"root", hex(a.roots[l.root].phys)},
                             {"owner", owner_name(a.roots[l.root].owner)},
                             {"pid", pid_or_null(a, l.root)},
                             {"table", hex(l.table)},
                             {"level", level_key(l.level, mode)},
                             {"index", l.index},
                             {"va", hex(l.va)}});
        }
        json sharers = json::array();
        for (const auto r : s.task_roots) {
            sharers.push_back(pid_or_null(a, r));
        }
        json hosts = json::array();
        for (const auto r : s.host_roots) {
            hosts.push_back(hex(a.roots[r].phys));
        }
        json unknown = json::array();
        for (const auto r : s.unknown_roots) {
            unknown.push_back(hex(a.roots[r].phys));
        }
        json below{{"tables", per_level(s.below.tables, mode, 1)},
                   {"pages", leaves_json(s.below.leaves)},
                   {"mapped_bytes", s.below.mapped_bytes}};
        below["tables"].erase(level_key(walker::top_level(mode), mode));
        puds.push_back({{"table", hex(s.phys)},
                        {"links", links},
                        {"sharers", sharers},
                        {"linked_task_roots", s.task_roots.size()},
                        {"host_roots", hosts},
                        {"unknown_roots", unknown},
                        {"share_count", s.share_count ? json(*s.share_count) : json(nullptr)},
                        {"status", s.status},
                        {"below", below}});
        if (s.status != "unknown") {
            any_known = true;
            all_consistent = all_consistent && s.status == "consistent";
        }
    }

    // Regions: shared PUDs of one host root at consecutive addresses.
    struct Piece {
        std::string key;
        std::uint64_t va;
        const SharedPud* pud;
        json host;
    };
    std::vector<Piece> pieces;
    for (const auto& s : a.shared_puds) {
        const SharedLink* host_link = nullptr;
        for (const auto& l : s.links) {
            if (a.roots[l.root].owner != RootOwner::task) {
                host_link = &l;
                break;
            }
        }
        if (host_link == nullptr && !s.links.empty()) {
            host_link = &s.links.front();
        }
        if (host_link == nullptr) {
            continue;
        }
        const bool is_host = a.roots[host_link->root].owner == RootOwner::unowned;
        pieces.push_back({hex(a.roots[host_link->root].phys), host_link->va, &s,
                          is_host ? json(hex(a.roots[host_link->root].phys)) : json(nullptr)});
    }
    std::sort(pieces.begin(), pieces.end(), [](const Piece& x, const Piece& y) {
        return x.key != y.key ? x.key < y.key : x.va < y.va;
    });
    json regions = json::array();
    const auto span = walker::entry_span(4);
    for (std::size_t i = 0; i < pieces.size();) {
        std::size_t j = i + 1;
        while (j < pieces.size() && pieces[j].key == pieces[i].key &&
               pieces[j].va == pieces[j - 1].va + span) {
            ++j;
        }
        PerLevel leaves{};
        PerLevel tables{};
        std::uint64_t mapped = 0;
        std::set<std::int64_t> sharer_pids;
        json pud_list = json::array();
        std::string status = "consistent";
        for (std::size_t k = i; k < j; ++k) {
            const auto& s = *pieces[k].pud;
            for (int l = 1; l <= 5; ++l) {
                leaves[static_cast<std::size_t>(l)] += s.below.leaves[static_cast<std::size_t>(l)];
                tables[static_cast<std::size_t>(l)] += s.below.tables[static_cast<std::size_t>(l)];
            }
            tables[3] += 1;
            mapped += s.below.mapped_bytes;
            for (const auto r : s.task_roots) {
                const auto pid = pid_or_null(a, r);
                if (pid.is_number()) {
                    sharer_pids.insert(pid.get<std::int64_t>());
                }
            }
            pud_list.push_back(hex(s.phys));
            if (s.status == "inconsistent" || (s.status == "unknown" && status == "consistent")) {
                status = s.status;
            }
        }
        regions.push_back(
            {{"host_root", pieces[i].host},
             {"va", hex(pieces[i].va)},
             {"size_bytes", (j - i) * span},
             {"pud_tables", pud_list},
             {"mapped_bytes", mapped},
             {"resident_pages", leaves_json(leaves)},
             {"table_bytes", sum(tables) * kTable},
             {"sharers", std::vector<std::int64_t>(sharer_pids.begin(), sharer_pids.end())},
             {"sharer_count",
              pieces[i].pud->task_roots.size() + pieces[i].pud->unknown_roots.size()},
             {"status", status}});
        i = j;
    }
    out["mshare"] = {{"shared_puds", puds},
                     {"regions", regions},
                     {"all_consistent", any_known ? json(all_consistent) : json(nullptr)},
                     {"truncated", a.shared_truncated}};

    // Anomalies.
    json kinds = json::object();
    for (std::size_t k = 0; k < walker::kAnomalyKinds; ++k) {
        kinds[std::string(walker::anomaly_name(static_cast<walker::AnomalyKind>(k)))] =
            walk.anomaly_counts()[k];
    }
    json first = json::array();
    for (const auto& an : walk.anomalies()) {
        if (first.size() >= 100) {
            break;
        }
        first.push_back({{"kind", walker::anomaly_name(an.kind)},
                         {"table", hex(an.table)},
                         {"level", level_key(an.level, mode)},
                         {"index", an.index},
                         {"entry", hex(an.entry)}});
    }
    out["anomalies"] = {{"total", walk.anomaly_total()},
                        {"by_kind", kinds},
                        {"first", first},
                        {"limits_hit", walk.truncated()}};

    // The walk itself.
    const auto tables_read = sum(unique);
    out["walk"] = {
        {"seconds", a.walk_seconds},
        {"scan_seconds", a.scan_seconds},
        {"process_list_seconds", a.process_seconds},
        {"analysis_seconds", a.analysis_seconds},
        {"entries_read", walk.entries_read()},
        {"table_pages", tables_read},
        {"table_bytes_per_second",
         a.walk_seconds > 0 ? static_cast<double>(tables_read * kTable) / a.walk_seconds : 0.0}};
    if (guest != nullptr && guest->collect_seconds) {
        out["walk"]["guest_collect_seconds"] = *guest->collect_seconds;
    }
    out["notes"] = a.notes;
    return out;
}

}  // namespace mvmm
