// Little-endian field access in byte buffers: reading untrusted images with
// bounds checks that name the field, and writing boot structures.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm {

// Reads little-endian fields of an untrusted buffer. Every read checks bounds
// and throws Error("<what>: truncated: <field> at <offset> ...") when it fails.
class ByteReader {
  public:
    ByteReader(std::span<const std::byte> bytes, std::string what)
        : bytes_(bytes), what_(std::move(what)) {}

    [[nodiscard]] std::size_t size() const noexcept { return bytes_.size(); }
    [[nodiscard]] const std::string& what() const noexcept { return what_; }
    [[nodiscard]] std::span<const std::byte> bytes() const noexcept { return bytes_; }

    [[nodiscard]] bool has(std::uint64_t offset, std::uint64_t len) const noexcept {
        return offset <= bytes_.size() && len <= bytes_.size() - offset;
    }
    // Throws unless [offset, offset+len) lies inside the buffer.
    void require(std::uint64_t offset, std::uint64_t len, std::string_view field) const {
        if (!has(offset, len)) {
            throw Error(cat(what_, ": truncated: ", field, " at ", hex(offset), " needs ", len,
                            " bytes, the file has ", bytes_.size()));
        }
    }
    template <typename T>
    [[nodiscard]] T get(std::uint64_t offset, std::string_view field) const {
        static_assert(std::is_integral_v<T>);
        require(offset, sizeof(T), field);
        T value{};
        std::memcpy(&value, bytes_.data() + offset, sizeof(T));
        return value;  // x86-64 only: host order is little-endian
    }
    [[nodiscard]] std::uint8_t u8(std::uint64_t offset, std::string_view field) const {
        return get<std::uint8_t>(offset, field);
    }
    [[nodiscard]] std::uint16_t u16(std::uint64_t offset, std::string_view field) const {
        return get<std::uint16_t>(offset, field);
    }
    [[nodiscard]] std::uint32_t u32(std::uint64_t offset, std::string_view field) const {
        return get<std::uint32_t>(offset, field);
    }
    [[nodiscard]] std::uint64_t u64(std::uint64_t offset, std::string_view field) const {
        return get<std::uint64_t>(offset, field);
    }
    [[nodiscard]] std::span<const std::byte> slice(std::uint64_t offset, std::uint64_t len,
                                                   std::string_view field) const {
        require(offset, len, field);
        return bytes_.subspan(offset, len);
    }

  private:
    std::span<const std::byte> bytes_;
    std::string what_;
};

// Writes little-endian fields into a buffer the caller sized; an out-of-range
// write is a bug in the VMM and throws Error.
class ByteWriter {
  public:
    explicit ByteWriter(std::span<std::byte> bytes) : bytes_(bytes) {}

    template <typename T>
    void put(std::size_t offset, T value) {
        static_assert(std::is_integral_v<T>);
        check(offset, sizeof(T));
        std::memcpy(bytes_.data() + offset, &value, sizeof(T));
    }
    void u8(std::size_t offset, std::uint8_t v) { put(offset, v); }
    void u16(std::size_t offset, std::uint16_t v) { put(offset, v); }
    void u32(std::size_t offset, std::uint32_t v) { put(offset, v); }
    void u64(std::size_t offset, std::uint64_t v) { put(offset, v); }
    void bytes(std::size_t offset, std::span<const std::byte> data) {
        check(offset, data.size());
        if (!data.empty()) {
            std::memcpy(bytes_.data() + offset, data.data(), data.size());
        }
    }
    void text(std::size_t offset, std::string_view s) {
        bytes(offset, std::as_bytes(std::span<const char>(s.data(), s.size())));
    }

  private:
    void check(std::size_t offset, std::size_t len) const {
        if (offset > bytes_.size() || len > bytes_.size() - offset) {
            throw Error(cat("internal: write of ", len, " bytes at ", hex(offset),
                            " outside a buffer of ", bytes_.size()));
        }
    }
    std::span<std::byte> bytes_;
};

}  // namespace mvmm
