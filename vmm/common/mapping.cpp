#include <sys/mman.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/mapping.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm {

Mapping::Mapping(std::string_view what, std::size_t length, int prot, int flags, int fd,
                 long offset)
    : length_(length) {
    void* base = ::mmap(nullptr, length, prot, flags, fd, offset);
    if (base == MAP_FAILED) {
        throw_errno(cat(what, ": mmap of ", human_bytes(length), " failed"));
    }
    base_ = base;
}

Mapping& Mapping::operator=(Mapping&& other) noexcept {
    if (this != &other) {
        reset();
        base_ = std::exchange(other.base_, nullptr);
        length_ = std::exchange(other.length_, 0);
    }
    return *this;
}

void Mapping::reset() noexcept {
    if (base_ != nullptr) {
        ::munmap(base_, length_);
    }
    base_ = nullptr;
    length_ = 0;
}

}  // namespace mvmm
