// Building the server's messages (greeting, replies, events) and putting any
// message on the wire: compact JSON followed by "\r\n".
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include <mvmm/protocol/error_class.hpp>

namespace mvmm::protocol {

struct VersionInfo {
    int major = 0;
    int minor = 0;
    int micro = 0;
    std::string package;  // e.g. "mshare-vmm 0.1.0"
};

// This build's version (the project version from CMake).
VersionInfo build_version();

// query-version's value: {"qemu": {"major", "minor", "micro"}, "package"}.
nlohmann::json version_json(const VersionInfo& version);
// {"QMP": {"version": <version_json>, "capabilities": []}}
nlohmann::json greeting(const VersionInfo& version);
// {"return": value, "id": id}, without "id" when there was none.
nlohmann::json return_message(nlohmann::json value, const std::optional<nlohmann::json>& id);
// {"error": {"class": ..., "desc": ...}, "id": id}
nlohmann::json error_message(ErrorClass error_class, std::string_view desc,
                             const std::optional<nlohmann::json>& id);
// {"event": name, "data": data, "timestamp": {"seconds", "microseconds"}}; "data"
// is left out when it is an empty object, as QEMU does.
nlohmann::json event_message(std::string_view name, const nlohmann::json& data,
                             std::chrono::system_clock::time_point when);
// The timestamp object of an event.
nlohmann::json timestamp_json(std::chrono::system_clock::time_point when);

// One message as sent: compact JSON and "\r\n". Strings that are not valid
// UTF-8 (the guest console can hold anything) get U+FFFD replacements.
std::string encode(const nlohmann::json& message);

}  // namespace mvmm::protocol
