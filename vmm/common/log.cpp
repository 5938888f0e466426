#include <array>
#include <atomic>
#include <cstdio>
#include <mutex>

#include <mvmm/common/clock.hpp>
#include <mvmm/common/log.hpp>

namespace mvmm::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::mutex g_mutex;

const char* level_name(Level level) {
    switch (level) {
        case Level::debug:
            return "debug";
        case Level::info:
            return "info ";
        case Level::warn:
            return "warn ";
        case Level::error:
            return "error";
        case Level::quiet:
            break;
    }
    return "";
}

}  // namespace

void set_level(Level level) {
    g_level.store(level);
}

Level level() {
    return g_level.load(std::memory_order_relaxed);
}

void write(Level lvl, std::string_view component, std::string_view message) {
    const std::lock_guard lock(g_mutex);
    std::fprintf(stderr, "[%9.3f] %s %.*s: %.*s\n", process_uptime_seconds(), level_name(lvl),
                 static_cast<int>(component.size()), component.data(),
                 static_cast<int>(message.size()), message.data());
}

}  // namespace mvmm::log
