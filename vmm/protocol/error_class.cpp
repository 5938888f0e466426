#include <array>
#include <utility>

#include <mvmm/protocol/error_class.hpp>

namespace mvmm::protocol {
namespace {

constexpr std::array<std::pair<ErrorClass, std::string_view>, 5> kNames{{
    {ErrorClass::generic_error, "GenericError"},
    {ErrorClass::command_not_found, "CommandNotFound"},
    {ErrorClass::device_not_active, "DeviceNotActive"},
    {ErrorClass::device_not_found, "DeviceNotFound"},
    {ErrorClass::kvm_missing_cap, "KVMMissingCap"},
}};

}  // namespace

std::string_view to_string(ErrorClass error_class) {
    for (const auto& [value, name] : kNames) {
        if (value == error_class) {
            return name;
        }
    }
    return "GenericError";
}

std::optional<ErrorClass> error_class_from_string(std::string_view name) {
    for (const auto& [value, text] : kNames) {
        if (text == name) {
            return value;
        }
    }
    return std::nullopt;
}

}  // namespace mvmm::protocol
