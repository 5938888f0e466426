// A pvpanic-style port (MVMM_PVPANIC_PORT): reads give the supported events
// (bit 0 panicked, bit 1 crash loaded); a non-zero write reports them.
#pragma once

#include <cstdint>
#include <functional>

#include <mvmm/devices/io_bus.hpp>

namespace mvmm {

class PvPanicPort : public IoDevice {
  public:
    static constexpr std::uint8_t kPanicked = 1;
    static constexpr std::uint8_t kCrashLoaded = 2;
    explicit PvPanicPort(std::function<void(std::uint8_t)> on_event)
        : on_event_(std::move(on_event)) {}
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  private:
    std::function<void(std::uint8_t)> on_event_;
};

}  // namespace mvmm
