#include <algorithm>

#include <mvmm/devices/null_device.hpp>

namespace mvmm {

void NullDevice::read(std::uint64_t /*offset*/, std::span<std::uint8_t> data) {
    std::fill(data.begin(), data.end(), value_);
}

}  // namespace mvmm
