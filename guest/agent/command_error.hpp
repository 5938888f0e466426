// The error a command handler throws: becomes {"error": {"class", "desc"}}.
#pragma once

#include <stdexcept>
#include <string>

#include <mvmm/agent/protocol.hpp>

namespace mvmm::agent {

class CommandError : public std::runtime_error {
  public:
    explicit CommandError(const std::string& desc, std::string error_class = kGenericError)
        : std::runtime_error(desc), class_(std::move(error_class)) {}
    [[nodiscard]] const std::string& error_class() const { return class_; }

  private:
    std::string class_;
};

}  // namespace mvmm::agent
