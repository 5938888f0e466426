#include <algorithm>

#include <mvmm/common/strings.hpp>
#include <mvmm/protocol/arguments.hpp>
#include <mvmm/protocol/error_class.hpp>
#include <mvmm/protocol/message.hpp>

namespace mvmm::protocol {
namespace {

bool matches(const nlohmann::json& value, ArgType type) {
    switch (type) {
        case ArgType::string:
            return value.is_string();
        case ArgType::integer:
            return value.is_number_integer();
        case ArgType::unsigned_integer:
            return value.is_number_unsigned() ||
                   (value.is_number_integer() && value.get<std::int64_t>() >= 0);
        case ArgType::number:
            return value.is_number();
        case ArgType::boolean:
            return value.is_boolean();
        case ArgType::string_list:
            return value.is_array() && std::all_of(value.begin(), value.end(),
                                                   [](const auto& v) { return v.is_string(); });
        case ArgType::object:
            return value.is_object();
        case ArgType::any:
            return true;
    }
    return false;
}

[[noreturn]] void bad(const std::string& desc) {
    throw CommandError(ErrorClass::generic_error, desc);
}

}  // namespace

std::string_view to_string(ArgType type) {
    switch (type) {
        case ArgType::string:
            return "string";
        case ArgType::integer:
            return "integer";
        case ArgType::unsigned_integer:
            return "non-negative integer";
        case ArgType::number:
            return "number";
        case ArgType::boolean:
            return "boolean";
        case ArgType::string_list:
            return "array of strings";
        case ArgType::object:
            return "object";
        case ArgType::any:
            return "any";
    }
    return "any";
}

void check_arguments(const nlohmann::json& arguments, std::span<const ArgSpec> specs) {
    if (!arguments.is_object()) {
        bad(cat("arguments must be an object, not ", json_type_name(arguments)));
    }
    for (auto it = arguments.begin(); it != arguments.end(); ++it) {
        const std::string& key = it.key();
        const nlohmann::json& value = it.value();
        const auto spec = std::find_if(specs.begin(), specs.end(),
                                       [&](const ArgSpec& s) { return s.name == key; });
        if (spec == specs.end()) {
            if (specs.empty()) {
                bad(cat("unexpected parameter ", quote(key), ": the command takes none"));
            }
            std::string allowed;
            for (const auto& s : specs) {
                allowed += cat(allowed.empty() ? "" : ", ", quote(s.name));
            }
            bad(cat("unexpected parameter ", quote(key), " (allowed: ", allowed, ")"));
        }
        if (!matches(value, spec->type)) {
            bad(cat("parameter ", quote(key), " must be ", to_string(spec->type), ", not ",
                    value.is_number_integer() && spec->type == ArgType::unsigned_integer
                        ? std::string_view("a negative integer")
                        : json_type_name(value)));
        }
    }
    for (const auto& spec : specs) {
        if (spec.required && !arguments.contains(spec.name)) {
            bad(cat("parameter ", quote(spec.name), " is missing (", to_string(spec.type), ")"));
        }
    }
}

std::string arg_string(const nlohmann::json& arguments, std::string_view name,
                       std::string_view fallback) {
    const auto it = arguments.find(name);
    return it != arguments.end() && it->is_string() ? it->get<std::string>()
                                                    : std::string(fallback);
}

std::int64_t arg_integer(const nlohmann::json& arguments, std::string_view name,
                         std::int64_t fallback) {
    const auto it = arguments.find(name);
    return it != arguments.end() && it->is_number_integer() ? it->get<std::int64_t>() : fallback;
}

std::uint64_t arg_unsigned(const nlohmann::json& arguments, std::string_view name,
                           std::uint64_t fallback) {
    const auto it = arguments.find(name);
    if (it == arguments.end()) {
        return fallback;
    }
    if (it->is_number_unsigned()) {
        return it->get<std::uint64_t>();
    }
    if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
        return static_cast<std::uint64_t>(it->get<std::int64_t>());
    }
    return fallback;
}

double arg_number(const nlohmann::json& arguments, std::string_view name, double fallback) {
    const auto it = arguments.find(name);
    return it != arguments.end() && it->is_number() ? it->get<double>() : fallback;
}

bool arg_bool(const nlohmann::json& arguments, std::string_view name, bool fallback) {
    const auto it = arguments.find(name);
    return it != arguments.end() && it->is_boolean() ? it->get<bool>() : fallback;
}

}  // namespace mvmm::protocol
