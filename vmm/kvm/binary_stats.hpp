// Reads a KVM binary statistics fd (KVM_GET_STATS_FD, api.rst 4.133): the
// header and descriptors once, the values on every read. Parsed by explicit
// offsets, so it does not depend on how a C++ compiler lays out the uAPI's
// flexible-array structs, and checked so that a short or odd file is an Error.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include <mvmm/common/unique_fd.hpp>

namespace mvmm::kvm {

struct StatDescriptor {
    std::string name;
    std::uint32_t flags = 0;  // type | unit | base
    std::int16_t exponent = 0;
    std::uint16_t size = 0;    // number of u64 values
    std::uint32_t offset = 0;  // from the start of the data block
    std::uint32_t bucket_size = 0;

    [[nodiscard]] const char* type() const;  // "cumulative", "instant", "peak", ...
    [[nodiscard]] const char* unit() const;  // "none", "bytes", "seconds", "cycles", "boolean"
    [[nodiscard]] unsigned base() const;     // 10 or 2
};

class BinaryStats {
  public:
    // Reads the header and descriptors; `what` names the fd in errors ("VM", "vCPU 1").
    BinaryStats(UniqueFd fd, std::string what);

    [[nodiscard]] const std::string& id() const noexcept { return id_; }
    [[nodiscard]] const std::vector<StatDescriptor>& descriptors() const noexcept {
        return descriptors_;
    }
    // The current values, one vector per descriptor (size() values each).
    [[nodiscard]] std::vector<std::vector<std::uint64_t>> values() const;
    // [{"name": .., "value": n or [..], "type": .., "unit": .., "exponent": ..}, ...]
    // in descriptor order, with "base": 2 for power-of-two exponents and
    // "bucket-size" for linear histograms (docs/control-protocol.md).
    [[nodiscard]] nlohmann::json to_json() const;
    // The first value of one statistic, if there is one with that name.
    [[nodiscard]] std::optional<std::uint64_t> value(const std::string& name) const;

  private:
    UniqueFd fd_;
    std::string what_;
    std::string id_;
    std::uint32_t data_offset_ = 0;
    std::uint64_t data_size_ = 0;
    std::vector<StatDescriptor> descriptors_;
};

}  // namespace mvmm::kvm
