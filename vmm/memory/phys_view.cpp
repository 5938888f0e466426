#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/memory/phys_view.hpp>

namespace mvmm {

PhysView::PhysView(std::span<const std::byte> backing, RamLayout layout)
    : backing_(backing), layout_(std::move(layout)) {
    if (backing_.size() < layout_.backing_size()) {
        throw Error(cat("guest memory view: backing of ", backing_.size(),
                        " bytes is smaller than the RAM layout needs (", layout_.backing_size(),
                        " bytes)"));
    }
}

bool PhysView::read(std::uint64_t gpa, std::span<std::byte> out) const noexcept {
    std::size_t done = 0;
    while (done < out.size()) {
        const std::uint64_t addr = gpa + done;
        if (addr < gpa) {
            return false;  // wrapped
        }
        const RamRange* hit = nullptr;
        for (const auto& r : layout_.ranges()) {
            if (addr >= r.gpa && addr - r.gpa < r.size) {
                hit = &r;
                break;
            }
        }
        if (hit == nullptr) {
            return false;
        }
        const std::uint64_t in_range = hit->size - (addr - hit->gpa);
        const std::size_t chunk =
            static_cast<std::size_t>(std::min<std::uint64_t>(in_range, out.size() - done));
        std::memcpy(out.data() + done, backing_.data() + hit->offset + (addr - hit->gpa), chunk);
        done += chunk;
    }
    return true;
}

std::span<const std::byte> PhysView::span(std::uint64_t gpa, std::uint64_t len) const noexcept {
    const auto offset = layout_.offset_of(gpa, len);
    if (!offset) {
        return {};
    }
    return backing_.subspan(*offset, len);
}

std::span<const std::byte> PhysView::page(std::uint64_t gpa) const noexcept {
    return span(gpa & ~(kPageSize - 1), kPageSize);
}

MappedPhysMemory::MappedPhysMemory(const std::filesystem::path& path, RamLayout layout) {
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        throw_errno(cat("guest memory file ", quote(path.string())));
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
        throw_errno(cat("guest memory file ", quote(path.string()), ": fstat"));
    }
    const auto needed = layout.backing_size();
    if (static_cast<std::uint64_t>(st.st_size) < needed) {
        throw Error(cat("guest memory file ", quote(path.string()), ": ", st.st_size,
                        " bytes, but the RAM layout needs ", needed));
    }
    mapping_ = Mapping(cat("guest memory file ", quote(path.string())), needed, PROT_READ,
                       MAP_SHARED, fd.get());
    view_ =
        PhysView(std::span<const std::byte>(mapping_.data(), mapping_.size()), std::move(layout));
}

}  // namespace mvmm
