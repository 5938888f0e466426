#include <mvmm/common/strings.hpp>
#include <mvmm/protocol/builders.hpp>

namespace mvmm::protocol {

VersionInfo build_version() {
    return VersionInfo{
        MVMM_VERSION_MAJOR, MVMM_VERSION_MINOR, MVMM_VERSION_PATCH,
        cat("mshare-vmm ", MVMM_VERSION_MAJOR, ".", MVMM_VERSION_MINOR, ".", MVMM_VERSION_PATCH)};
}

nlohmann::json version_json(const VersionInfo& version) {
    return {
        {"qemu", {{"major", version.major}, {"minor", version.minor}, {"micro", version.micro}}},
        {"package", version.package}};
}

nlohmann::json greeting(const VersionInfo& version) {
    return {
        {"QMP", {{"version", version_json(version)}, {"capabilities", nlohmann::json::array()}}}};
}

nlohmann::json return_message(nlohmann::json value, const std::optional<nlohmann::json>& id) {
    nlohmann::json message = {{"return", std::move(value)}};
    if (id) {
        message["id"] = *id;
    }
    return message;
}

nlohmann::json error_message(ErrorClass error_class, std::string_view desc,
                             const std::optional<nlohmann::json>& id) {
    nlohmann::json message = {{"error", {{"class", to_string(error_class)}, {"desc", desc}}}};
    if (id) {
        message["id"] = *id;
    }
    return message;
}

nlohmann::json timestamp_json(std::chrono::system_clock::time_point when) {
    const auto us =
        std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
    auto seconds = us / 1'000'000;
    auto micro = us % 1'000'000;
    if (micro < 0) {
        micro += 1'000'000;
        --seconds;
    }
    return {{"seconds", seconds}, {"microseconds", micro}};
}

nlohmann::json event_message(std::string_view name, const nlohmann::json& data,
                             std::chrono::system_clock::time_point when) {
    nlohmann::json message = {{"event", name}, {"timestamp", timestamp_json(when)}};
    if (!(data.is_object() && data.empty()) && !data.is_null()) {
        message["data"] = data;
    }
    return message;
}

std::string encode(const nlohmann::json& message) {
    std::string text = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += "\r\n";
    return text;
}

}  // namespace mvmm::protocol
