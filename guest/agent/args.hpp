// Typed access to a command's "arguments" object, with error messages that
// name the command, the argument and what it must be.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm::agent {

class Args {
  public:
    Args(const nlohmann::json& arguments, std::string command)
        : args_(arguments), command_(std::move(command)) {}

    // Throws CommandError naming the first member not in `known`.
    void allow_only(std::initializer_list<std::string_view> known) const;

    [[nodiscard]] bool has(const char* name) const;
    [[nodiscard]] std::string string(const char* name) const;  // required
    [[nodiscard]] std::optional<std::string> opt_string(const char* name) const;
    [[nodiscard]] std::optional<std::int64_t> opt_integer(const char* name, std::int64_t min,
                                                          std::int64_t max) const;
    [[nodiscard]] std::optional<double> opt_number(const char* name, double min, double max) const;
    [[nodiscard]] std::optional<bool> opt_boolean(const char* name) const;
    [[nodiscard]] std::vector<std::string> opt_strings(const char* name) const;  // [] if absent

  private:
    [[noreturn]] void bad(const char* name, const std::string& must_be) const;
    const nlohmann::json& args_;
    std::string command_;
};

}  // namespace mvmm::agent
