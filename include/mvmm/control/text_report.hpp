// Readable text for command replies, for people at a terminal (`mshare-vmm
// ctl` without --json). Works on any JSON shape:
//   - scalars of an object become an aligned "key  value" block;
//   - an array of objects becomes a table, one row per object;
//   - a nested object becomes an indented section under its key;
//   - integer members named "bytes", "size" or "*-bytes" are shown in KiB/MiB/GiB.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace mvmm::control {

// Every line starts with `indent`.
std::string render_text(const nlohmann::json& value, const std::string& indent = "");

// One value as a table cell: strings bare, booleans "yes"/"no", arrays of
// scalars comma-separated, byte counts human-readable when `key` names bytes.
std::string render_cell(const std::string& key, const nlohmann::json& value);

}  // namespace mvmm::control
