#include <algorithm>

#include <mvmm/devices/pvpanic_port.hpp>

namespace mvmm {

void PvPanicPort::read(std::uint64_t /*offset*/, std::span<std::uint8_t> data) {
    std::fill(data.begin(), data.end(), 0);
    if (!data.empty()) {
        data[0] = kPanicked | kCrashLoaded;
    }
}

void PvPanicPort::write(std::uint64_t /*offset*/, std::span<const std::uint8_t> data) {
    if (!data.empty() && data[0] != 0 && on_event_) {
        on_event_(data[0]);
    }
}

}  // namespace mvmm
