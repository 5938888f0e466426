// Claims ports that guests poke but that need no behaviour (port 0x80, the
// POST/delay port): reads return a fixed value, writes are dropped, and
// nothing is logged as unclaimed.
#pragma once

#include <cstdint>

#include <mvmm/devices/io_bus.hpp>

namespace mvmm {

class NullDevice : public IoDevice {
  public:
    explicit NullDevice(std::uint8_t read_value = 0xff) : value_(read_value) {}
    void read(std::uint64_t offset, std::span<std::uint8_t> data) override;
    void write(std::uint64_t /*offset*/, std::span<const std::uint8_t> /*data*/) override {}

  private:
    std::uint8_t value_;
};

}  // namespace mvmm
