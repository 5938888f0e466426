#include <cstring>

#include <sys/mman.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/memory/guest_ram.hpp>

namespace mvmm {

GuestRam::GuestRam(std::uint64_t bytes, const std::string& name) {
    auto layout = RamLayout::x86_standard(bytes);
    fd_ = UniqueFd(::memfd_create(name.c_str(), MFD_CLOEXEC));
    if (!fd_) {
        throw_errno(cat("guest RAM ", quote(name), ": memfd_create"));
    }
    if (::ftruncate(fd_.get(), static_cast<off_t>(layout.backing_size())) != 0) {
        throw_errno(cat("guest RAM ", quote(name), ": ftruncate to ", human_bytes(bytes)));
    }
    mapping_ = Mapping(cat("guest RAM ", quote(name)), layout.backing_size(),
                       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_.get());
    view_ =
        PhysView(std::span<const std::byte>(mapping_.data(), mapping_.size()), std::move(layout));
}

std::byte* GuestRam::host_address(std::uint64_t gpa, std::uint64_t len) const {
    const auto offset = layout().offset_of(gpa, len);
    if (!offset) {
        throw Error(
            cat("guest RAM: [", hex(gpa), ", ", hex(gpa + len), ") is not inside guest RAM"));
    }
    return mapping_.data() + *offset;
}

void GuestRam::write(std::uint64_t gpa, std::span<const std::byte> data) const {
    std::memcpy(host_address(gpa, data.size()), data.data(), data.size());
}

}  // namespace mvmm
