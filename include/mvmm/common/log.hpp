// Leveled logging to stderr: "[  1.234] info  kvm: vcpu 0 started".
// The time is seconds since the process started.
#pragma once

#include <string_view>

#include <mvmm/common/strings.hpp>

namespace mvmm::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3, quiet = 4 };

void set_level(Level level);
Level level();
void write(Level level, std::string_view component, std::string_view message);

template <typename... Args>
void debug(std::string_view component, const Args&... args) {
    if (level() <= Level::debug) {
        write(Level::debug, component, cat(args...));
    }
}
template <typename... Args>
void info(std::string_view component, const Args&... args) {
    if (level() <= Level::info) {
        write(Level::info, component, cat(args...));
    }
}
template <typename... Args>
void warn(std::string_view component, const Args&... args) {
    if (level() <= Level::warn) {
        write(Level::warn, component, cat(args...));
    }
}
template <typename... Args>
void error(std::string_view component, const Args&... args) {
    write(Level::error, component, cat(args...));
}

}  // namespace mvmm::log
