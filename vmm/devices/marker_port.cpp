#include <algorithm>

#include <mvmm/devices/marker_port.hpp>

namespace mvmm {

void MarkerPort::read(std::uint64_t /*offset*/, std::span<std::uint8_t> data) {
    std::fill(data.begin(), data.end(), 0xe9);
}

void MarkerPort::write(std::uint64_t /*offset*/, std::span<const std::uint8_t> data) {
    if (!data.empty() && on_byte_) {
        on_byte_(data[0]);
    }
}

}  // namespace mvmm
