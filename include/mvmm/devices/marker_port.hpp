// Port 0xe9 (MVMM_MARKER_PORT): the guest writes single bytes to mark
// progress ('B': boot complete). Reads return 0xe9, as the Bochs debug port does.
#pragma once

#include <cstdint>
#include <functional>

#include <mvmm/devices/io_bus.hpp>

namespace mvmm {

class MarkerPort : public IoDevice {
  public:
    explicit MarkerPort(std::function<void(std::uint8_t)> on_byte) : on_byte_(std::move(on_byte)) {}
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t offset, std::span<const std::uint8_t> data) override;

  private:
    std::function<void(std::uint8_t)> on_byte_;
};

}  // namespace mvmm
