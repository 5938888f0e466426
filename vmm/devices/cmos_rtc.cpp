#include <algorithm>

#include <mvmm/devices/cmos_rtc.hpp>

namespace mvmm {
namespace {

constexpr std::uint8_t kSeconds = 0x00;
constexpr std::uint8_t kMinutes = 0x02;
constexpr std::uint8_t kHours = 0x04;
constexpr std::uint8_t kWeekday = 0x06;
constexpr std::uint8_t kDay = 0x07;
constexpr std::uint8_t kMonth = 0x08;
constexpr std::uint8_t kYear = 0x09;
constexpr std::uint8_t kStatusA = 0x0a;
constexpr std::uint8_t kStatusB = 0x0b;
constexpr std::uint8_t kStatusC = 0x0c;
constexpr std::uint8_t kStatusD = 0x0d;
constexpr std::uint8_t kCentury = 0x32;

std::uint8_t bcd(int v) {
    return static_cast<std::uint8_t>(((v / 10) % 10) << 4 | (v % 10));
}

}  // namespace

CmosRtc::CmosRtc(Clock clock) : clock_(std::move(clock)) {
    if (!clock_) {
        clock_ = [] { return std::time(nullptr); };
    }
}

std::uint8_t CmosRtc::read_register(std::uint8_t index) const {
    const std::time_t now = clock_();
    std::tm tm{};
    gmtime_r(&now, &tm);
    switch (index) {
        case kSeconds:
            return bcd(tm.tm_sec);
        case kMinutes:
            return bcd(tm.tm_min);
        case kHours:
            return bcd(tm.tm_hour);
        case kWeekday:
            return bcd(tm.tm_wday + 1);
        case kDay:
            return bcd(tm.tm_mday);
        case kMonth:
            return bcd(tm.tm_mon + 1);
        case kYear:
            return bcd(tm.tm_year % 100);
        case kCentury:
            return bcd(19 + tm.tm_year / 100);
        case kStatusA:
            return 0x26;  // 32.768 kHz time base, 1024 Hz rate, no update in progress
        case kStatusB:
            return 0x02;  // 24-hour mode, BCD, no interrupts
        case kStatusC:
            return 0x00;
        case kStatusD:
            return 0x80;  // valid RAM and time
        default:
            return ram_[index];
    }
}

void CmosRtc::read(std::uint64_t offset, std::span<std::uint8_t> data) {
    const std::lock_guard lock(mutex_);
    std::fill(data.begin(), data.end(), 0xff);
    if (!data.empty() && offset == 1) {
        data[0] = read_register(index_);
    }
}

void CmosRtc::write(std::uint64_t offset, std::span<const std::uint8_t> data) {
    const std::lock_guard lock(mutex_);
    if (data.empty()) {
        return;
    }
    if (offset == 0) {
        index_ = data[0] & 0x7f;  // bit 7 is the NMI mask
    } else if (index_ > kStatusD && index_ != kCentury) {
        ram_[index_] = data[0];  // the clock itself is the host's: time writes are dropped
    }
}

}  // namespace mvmm
