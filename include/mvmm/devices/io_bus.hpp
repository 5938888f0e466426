// A bus of address ranges (I/O ports or MMIO) that devices claim. The vCPU
// loop hands every port or MMIO exit to a bus and knows no device; a device
// knows only its own registers.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm {

class IoDevice {
  public:
    virtual ~IoDevice() = default;
    // `offset` is from the base the device was added at; data.size() is the
    // access width (1, 2, 4, or 8 for MMIO). Called from vCPU threads: a
    // device serializes its own state.
    virtual void read(std::uint64_t offset, std::span<std::uint8_t> data) = 0;
    virtual void write(std::uint64_t offset, std::span<const std::uint8_t> data) = 0;
};

// Edge of an interrupt line: a device calls it with the new level.
using IrqLevel = std::function<void(bool level)>;

class IoBus {
  public:
    explicit IoBus(std::string name) : name_(std::move(name)) {}

    // Claims [base, base+length) for `device`. Throws Error naming both
    // devices if the range overlaps one already added. Add every device before
    // the vCPUs run: lookups take no lock.
    void add(std::uint64_t base, std::uint64_t length, std::shared_ptr<IoDevice> device,
             std::string name);

    // Dispatches an access. Returns false if no device claims the whole access;
    // a read then returns all ones and a write is dropped.
    bool read(std::uint64_t addr, std::span<std::uint8_t> data) const;
    bool write(std::uint64_t addr, std::span<const std::uint8_t> data) const;

    // Accesses no device claimed (for logs and tests).
    [[nodiscard]] std::uint64_t unclaimed() const noexcept { return unclaimed_.load(); }
    [[nodiscard]] const std::string& name() const noexcept { return name_; }

  private:
    struct Range {
        std::uint64_t base;
        std::uint64_t length;
        std::shared_ptr<IoDevice> device;
        std::string name;
    };
    const Range* find(std::uint64_t addr, std::uint64_t len) const;
    void note_unclaimed(std::uint64_t addr, std::size_t len, bool write) const;

    std::string name_;
    std::vector<Range> ranges_;  // sorted by base
    mutable std::atomic<std::uint64_t> unclaimed_{0};
};

}  // namespace mvmm
