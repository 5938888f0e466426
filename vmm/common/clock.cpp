#include <mvmm/common/clock.hpp>

namespace mvmm {
namespace {
const std::chrono::steady_clock::time_point g_process_start = std::chrono::steady_clock::now();
}  // namespace

double process_uptime_seconds() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - g_process_start)
        .count();
}

}  // namespace mvmm
