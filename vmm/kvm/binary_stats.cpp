#include "binary_stats.hpp"

#include <algorithm>
#include <cstring>

#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/loader/byte_io.hpp>

namespace mvmm::kvm {
namespace {

constexpr std::size_t kHeaderSize = 24;
constexpr std::size_t kDescriptorFixed = 16;  // flags, exponent, size, offset, bucket_size
constexpr std::uint32_t kMaxDescriptors = 4096;
constexpr std::uint32_t kMaxNameSize = 1024;

std::vector<std::byte> read_at(int fd, std::uint64_t offset, std::size_t size,
                               const std::string& what) {
    std::vector<std::byte> out(size);
    std::size_t done = 0;
    while (done < size) {
        const ssize_t n =
            ::pread(fd, out.data() + done, size - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            throw_errno(cat("KVM statistics (", what, "): read"));
        }
        if (n == 0) {
            throw Error(cat("KVM statistics (", what, "): the stats file ends at ", offset + done,
                            ", expected ", size - done, " more bytes"));
        }
        done += static_cast<std::size_t>(n);
    }
    return out;
}

}  // namespace

const char* StatDescriptor::type() const {
    switch (flags & 0xf) {
        case 0x0:
            return "cumulative";
        case 0x1:
            return "instant";
        case 0x2:
            return "peak";
        case 0x3:
            return "linear-histogram";
        case 0x4:
            return "log-histogram";
        default:
            return "unknown";
    }
}

const char* StatDescriptor::unit() const {
    switch ((flags >> 4) & 0xf) {
        case 0x0:
            return "none";
        case 0x1:
            return "bytes";
        case 0x2:
            return "seconds";
        case 0x3:
            return "cycles";
        case 0x4:
            return "boolean";
        default:
            return "unknown";
    }
}

unsigned StatDescriptor::base() const {
    return ((flags >> 8) & 0xf) == 1 ? 2 : 10;
}

BinaryStats::BinaryStats(UniqueFd fd, std::string what)
    : fd_(std::move(fd)), what_(std::move(what)) {
    const auto header_bytes = read_at(fd_.get(), 0, kHeaderSize, what_);
    const ByteReader header(header_bytes, cat("KVM statistics (", what_, ")"));
    const auto name_size = header.u32(4, "name_size");
    const auto num_desc = header.u32(8, "num_desc");
    const auto id_offset = header.u32(12, "id_offset");
    const auto desc_offset = header.u32(16, "desc_offset");
    data_offset_ = header.u32(20, "data_offset");
    if (name_size == 0 || name_size > kMaxNameSize || num_desc > kMaxDescriptors) {
        throw Error(cat("KVM statistics (", what_, "): implausible header (name_size ", name_size,
                        ", num_desc ", num_desc, ")"));
    }
    const auto id_bytes = read_at(fd_.get(), id_offset, name_size, what_);
    id_.assign(reinterpret_cast<const char*>(id_bytes.data()),
               strnlen(reinterpret_cast<const char*>(id_bytes.data()), name_size));

    const std::size_t stride = kDescriptorFixed + name_size;
    const auto desc_bytes = read_at(fd_.get(), desc_offset, stride * num_desc, what_);
    const ByteReader r(desc_bytes, cat("KVM statistics (", what_, ")"));
    for (std::uint32_t i = 0; i < num_desc; ++i) {
        const std::size_t at = i * stride;
        StatDescriptor d;
        d.flags = r.u32(at, "descriptor flags");
        d.exponent = static_cast<std::int16_t>(r.u16(at + 4, "descriptor exponent"));
        d.size = r.u16(at + 6, "descriptor size");
        d.offset = r.u32(at + 8, "descriptor offset");
        d.bucket_size = r.u32(at + 12, "descriptor bucket_size");
        const auto* name = reinterpret_cast<const char*>(desc_bytes.data() + at + kDescriptorFixed);
        d.name.assign(name, strnlen(name, name_size));
        data_size_ = std::max<std::uint64_t>(data_size_, std::uint64_t{d.offset} + d.size * 8ULL);
        descriptors_.push_back(std::move(d));
    }
}

std::vector<std::vector<std::uint64_t>> BinaryStats::values() const {
    const auto data = read_at(fd_.get(), data_offset_, data_size_, what_);
    const ByteReader r(data, cat("KVM statistics (", what_, ")"));
    std::vector<std::vector<std::uint64_t>> out;
    out.reserve(descriptors_.size());
    for (const auto& d : descriptors_) {
        std::vector<std::uint64_t> v(d.size);
        for (std::size_t i = 0; i < d.size; ++i) {
            v[i] = r.u64(d.offset + i * 8, d.name);
        }
        out.push_back(std::move(v));
    }
    return out;
}

nlohmann::json BinaryStats::to_json() const {
    const auto all = values();
    nlohmann::json out = nlohmann::json::array();
    for (std::size_t i = 0; i < descriptors_.size(); ++i) {
        const auto& d = descriptors_[i];
        const std::string_view type = d.type();
        const bool histogram = type.find("histogram") != std::string_view::npos;
        nlohmann::json entry = {{"name", d.name}};
        if (d.size == 1 && !histogram) {
            entry["value"] = all[i][0];
        } else {
            entry["value"] = all[i];
        }
        entry["type"] = type;
        entry["unit"] = d.unit();
        entry["exponent"] = d.exponent;
        if (d.base() == 2) {
            entry["base"] = 2;  // the exponent is a power of two (else of ten)
        }
        if (type == "linear-histogram") {
            entry["bucket-size"] = d.bucket_size;
        }
        out.push_back(std::move(entry));
    }
    return out;
}

std::optional<std::uint64_t> BinaryStats::value(const std::string& name) const {
    for (std::size_t i = 0; i < descriptors_.size(); ++i) {
        if (descriptors_[i].name == name) {
            const auto all = values();
            if (all[i].empty()) {
                return std::nullopt;
            }
            return all[i][0];
        }
    }
    return std::nullopt;
}

}  // namespace mvmm::kvm
