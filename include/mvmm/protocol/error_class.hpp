// QMP error classes, and the exception a command handler throws to answer
// with a particular class.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <mvmm/common/error.hpp>

namespace mvmm::protocol {

enum class ErrorClass {
    generic_error,      // "GenericError": most failures
    command_not_found,  // "CommandNotFound": unknown command, or not yet negotiated
    device_not_active,  // "DeviceNotActive": e.g. the guest agent is not connected
    device_not_found,   // "DeviceNotFound"
    kvm_missing_cap,    // "KVMMissingCap": a KVM-only query on an engine without KVM
};

// QMP's spelling: "GenericError", "CommandNotFound", ...
std::string_view to_string(ErrorClass error_class);
std::optional<ErrorClass> error_class_from_string(std::string_view name);

// Thrown by command handlers (and by the client on an error reply). A plain
// mvmm::Error thrown by a handler becomes a GenericError.
class CommandError : public Error {
  public:
    CommandError(ErrorClass error_class, const std::string& desc)
        : Error(desc), class_(error_class) {}
    [[nodiscard]] ErrorClass error_class() const noexcept { return class_; }

  private:
    ErrorClass class_;
};

}  // namespace mvmm::protocol
