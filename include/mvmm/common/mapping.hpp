// RAII owner of an mmap()ed range.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>
#include <utility>

namespace mvmm {

class Mapping {
  public:
    Mapping() = default;
    // mmap(nullptr, length, prot, flags, fd, offset); throws Error naming `what` on failure.
    Mapping(std::string_view what, std::size_t length, int prot, int flags, int fd,
            long offset = 0);
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
    Mapping(Mapping&& other) noexcept
        : base_(std::exchange(other.base_, nullptr)), length_(std::exchange(other.length_, 0)) {}
    Mapping& operator=(Mapping&& other) noexcept;
    ~Mapping() { reset(); }

    [[nodiscard]] std::byte* data() const noexcept { return static_cast<std::byte*>(base_); }
    [[nodiscard]] std::size_t size() const noexcept { return length_; }
    [[nodiscard]] std::span<std::byte> bytes() const noexcept { return {data(), length_}; }
    [[nodiscard]] bool valid() const noexcept { return base_ != nullptr; }
    void reset() noexcept;

  private:
    void* base_ = nullptr;
    std::size_t length_ = 0;
};

}  // namespace mvmm
