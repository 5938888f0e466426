#include <algorithm>
#include <cstring>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/devices/io_bus.hpp>

namespace mvmm {

void IoBus::add(std::uint64_t base, std::uint64_t length, std::shared_ptr<IoDevice> device,
                std::string name) {
    if (length == 0 || base + length < base) {
        throw Error(cat(name_, " bus: device ", quote(name), " has an empty or wrapping range at ",
                        hex(base)));
    }
    for (const auto& r : ranges_) {
        if (base < r.base + r.length && r.base < base + length) {
            throw Error(cat(name_, " bus: device ", quote(name), " at [", hex(base), ", ",
                            hex(base + length), ") overlaps ", quote(r.name), " at [", hex(r.base),
                            ", ", hex(r.base + r.length), ")"));
        }
    }
    const auto at = std::upper_bound(ranges_.begin(), ranges_.end(), base,
                                     [](std::uint64_t b, const Range& r) { return b < r.base; });
    ranges_.insert(at, Range{base, length, std::move(device), std::move(name)});
}

const IoBus::Range* IoBus::find(std::uint64_t addr, std::uint64_t len) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), addr,
                               [](std::uint64_t a, const Range& r) { return a < r.base; });
    if (it == ranges_.begin()) {
        return nullptr;
    }
    --it;
    const std::uint64_t off = addr - it->base;
    if (off >= it->length || len > it->length - off) {
        return nullptr;
    }
    return &*it;
}

void IoBus::note_unclaimed(std::uint64_t addr, std::size_t len, bool write) const {
    const auto n = unclaimed_.fetch_add(1) + 1;
    // Log the first few, then only now and then: a guest may poll a missing device.
    if (n <= 16 || (n & (n - 1)) == 0) {
        log::debug("devices", name_, " bus: unclaimed ", write ? "write" : "read", " of ", len,
                   " bytes at ", hex(addr), " (", n, " so far)");
    }
}

bool IoBus::read(std::uint64_t addr, std::span<std::uint8_t> data) const {
    const Range* r = find(addr, data.size());
    if (r == nullptr) {
        std::fill(data.begin(), data.end(), 0xff);
        note_unclaimed(addr, data.size(), false);
        return false;
    }
    r->device->read(addr - r->base, data);
    return true;
}

bool IoBus::write(std::uint64_t addr, std::span<const std::uint8_t> data) const {
    const Range* r = find(addr, data.size());
    if (r == nullptr) {
        note_unclaimed(addr, data.size(), true);
        return false;
    }
    r->device->write(addr - r->base, data);
    return true;
}

}  // namespace mvmm
