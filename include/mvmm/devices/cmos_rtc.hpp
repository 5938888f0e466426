// The CMOS real-time clock at ports 0x70 (index) and 0x71 (data): the host's
// UTC time in BCD, 24-hour mode, never "update in progress", so the guest
// reads its wall-clock time at boot without waiting. Other CMOS bytes are
// plain RAM. Alarms and periodic interrupts are not modelled.
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>

#include <mvmm/devices/io_bus.hpp>

namespace mvmm {

class CmosRtc : public IoDevice {
  public:
    static constexpr std::uint16_t kPort = 0x70;
    // The clock to read; the host's by default (tests pass a fixed one).
    using Clock = std::function<std::time_t()>;
    explicit CmosRtc(Clock clock = {});

    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  private:
    std::uint8_t read_register(std::uint8_t index) const;

    Clock clock_;
    std::mutex mutex_;
    std::uint8_t index_ = 0;
    std::array<std::uint8_t, 128> ram_{};
};

}  // namespace mvmm
