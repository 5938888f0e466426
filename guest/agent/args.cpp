#include "args.hpp"

#include <mvmm/common/strings.hpp>

#include "command_error.hpp"

namespace mvmm::agent {

void Args::bad(const char* name, const std::string& must_be) const {
    throw CommandError(command_ + ": argument '" + name + "' must be " + must_be);
}

void Args::allow_only(std::initializer_list<std::string_view> known) const {
    for (const auto& [key, value] : args_.items()) {
        bool ok = false;
        for (const auto k : known) {
            ok = ok || k == key;
        }
        if (!ok) {
            std::string list;
            for (const auto k : known) {
                list += list.empty() ? "" : ", ";
                list += k;
            }
            throw CommandError(command_ + ": unknown argument " + quote(key) +
                               (list.empty() ? " (it takes none)" : " (known: " + list + ")"));
        }
    }
}

bool Args::has(const char* name) const {
    return args_.contains(name);
}

std::string Args::string(const char* name) const {
    if (!args_.contains(name)) {
        throw CommandError(command_ + ": argument '" + name + "' is missing");
    }
    auto value = opt_string(name);
    return *value;
}

std::optional<std::string> Args::opt_string(const char* name) const {
    if (!args_.contains(name)) {
        return std::nullopt;
    }
    const auto& v = args_.at(name);
    if (!v.is_string()) {
        bad(name, "a string");
    }
    return v.get<std::string>();
}

std::optional<std::int64_t> Args::opt_integer(const char* name, std::int64_t min,
                                              std::int64_t max) const {
    if (!args_.contains(name)) {
        return std::nullopt;
    }
    const auto& v = args_.at(name);
    const auto must = cat("an integer from ", min, " to ", max);
    if (v.is_number_unsigned()) {
        const auto u = v.get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(max)) {
            bad(name, must);
        }
        return static_cast<std::int64_t>(u);
    }
    if (!v.is_number_integer()) {
        bad(name, must);
    }
    const auto i = v.get<std::int64_t>();
    if (i < min || i > max) {
        bad(name, must);
    }
    return i;
}

std::optional<double> Args::opt_number(const char* name, double min, double max) const {
    if (!args_.contains(name)) {
        return std::nullopt;
    }
    const auto& v = args_.at(name);
    const auto must = cat("a number from ", min, " to ", max);
    if (!v.is_number()) {
        bad(name, must);
    }
    const auto d = v.get<double>();
    if (!(d >= min && d <= max)) {
        bad(name, must);
    }
    return d;
}

std::optional<bool> Args::opt_boolean(const char* name) const {
    if (!args_.contains(name)) {
        return std::nullopt;
    }
    const auto& v = args_.at(name);
    if (!v.is_boolean()) {
        bad(name, "true or false");
    }
    return v.get<bool>();
}

std::vector<std::string> Args::opt_strings(const char* name) const {
    std::vector<std::string> out;
    if (!args_.contains(name)) {
        return out;
    }
    const auto& v = args_.at(name);
    if (!v.is_array()) {
        bad(name, "an array of strings");
    }
    for (const auto& item : v) {
        if (!item.is_string()) {
            bad(name, "an array of strings");
        }
        out.push_back(item.get<std::string>());
    }
    return out;
}

}  // namespace mvmm::agent
