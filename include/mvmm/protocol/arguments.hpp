// The arguments a command accepts, and checking a command's "arguments"
// object against them before the command runs.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>

namespace mvmm::protocol {

enum class ArgType {
    string,
    integer,           // any JSON integer
    unsigned_integer,  // a JSON integer >= 0
    number,            // integer or floating point
    boolean,
    string_list,  // an array of strings
    object,
    any,
};

// "string", "integer", ... as used in messages and query-commands.
std::string_view to_string(ArgType type);

struct ArgSpec {
    std::string name;
    ArgType type = ArgType::any;
    bool required = false;
};

// Throws CommandError(GenericError) naming the parameter when `arguments`
// (an object) lacks a required member, has one that is not in `specs`, or has
// one of the wrong type.
void check_arguments(const nlohmann::json& arguments, std::span<const ArgSpec> specs);

// Typed access for handlers, after check_arguments: the value, or `fallback`
// when the optional argument is absent.
std::string arg_string(const nlohmann::json& arguments, std::string_view name,
                       std::string_view fallback = {});
std::int64_t arg_integer(const nlohmann::json& arguments, std::string_view name,
                         std::int64_t fallback = 0);
std::uint64_t arg_unsigned(const nlohmann::json& arguments, std::string_view name,
                           std::uint64_t fallback = 0);
double arg_number(const nlohmann::json& arguments, std::string_view name, double fallback = 0.0);
bool arg_bool(const nlohmann::json& arguments, std::string_view name, bool fallback = false);

}  // namespace mvmm::protocol
