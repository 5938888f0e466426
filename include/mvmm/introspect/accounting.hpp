// The accounting report (JSON) of one analysis: per process, totals, shared
// PUDs and mshare regions, anomalies, walk figures. The reference of every
// field is docs/introspection.md. Live reports add the "source", "host" and
// "kvm" sections (Introspector); offline reports say why those are absent.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include <mvmm/introspect/analysis.hpp>
#include <mvmm/introspect/guest_figures.hpp>

namespace mvmm {

inline constexpr std::string_view kAccountingFormat = "mshare-vmm-accounting/1";

// `guest` may be null (no guest agent figures).
nlohmann::json accounting_json(const Analysis& analysis, const GuestFigures* guest);

// Second-level (EPT/NPT, or shadow) table bytes implied by leaf counts: the
// fewest tables that can hold that many 4 KiB, 2 MiB and 1 GiB leaves.
std::uint64_t implied_table_bytes(std::uint64_t pages_4k, std::uint64_t pages_2m,
                                  std::uint64_t pages_1g);

}  // namespace mvmm
