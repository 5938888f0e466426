// Time helpers: a monotonic stopwatch and QMP-style wall-clock timestamps.
#pragma once

#include <chrono>
#include <cstdint>

namespace mvmm {

class Stopwatch {
  public:
    Stopwatch() : start_(std::chrono::steady_clock::now()) {}
    void restart() { start_ = std::chrono::steady_clock::now(); }
    [[nodiscard]] double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }
    [[nodiscard]] std::int64_t microseconds() const {
        return std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::steady_clock::now() - start_)
            .count();
    }

  private:
    std::chrono::steady_clock::time_point start_;
};

// Seconds since this process started (monotonic).
double process_uptime_seconds();

}  // namespace mvmm
