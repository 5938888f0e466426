// The control socket's introspection replies (docs/control-protocol.md),
// made from one accounting report (docs/introspection.md): the figures a
// command answers with, under the protocol's dash-separated names.
//
//   auto report = introspector.report({});
//   auto reply = regions_reply(report);   // {"regions": [...], "shared-puds": [...], ...}
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

namespace mvmm::guest_services {

// mshare-query-processes. Throws Error (with the report's reason) when the
// report has no processes, i.e. was made without a profile.
nlohmann::json processes_reply(const nlohmann::json& report);

// mshare-query-page-tables for the process that has `pid` among its tasks;
// nullopt if none has. Throws Error like processes_reply.
std::optional<nlohmann::json> page_tables_reply(const nlohmann::json& report, std::int64_t pid);

// mshare-query-regions: the regions, the shared PUD tables and the
// share-count check.
nlohmann::json regions_reply(const nlohmann::json& report);

// mshare-query-accounting: per process the walked, kernel and guest figures;
// the totals; the host side; the KVM second-level MMU or why it is absent.
nlohmann::json accounting_reply(const nlohmann::json& report);

// mshare-dirty-log-collect from Introspector::dirty_report(): "count" and
// "pfns", and what the pages are.
nlohmann::json dirty_reply(const nlohmann::json& dirty_report);

}  // namespace mvmm::guest_services
