#include <unistd.h>

#include <mvmm/common/unique_fd.hpp>

namespace mvmm {

void UniqueFd::reset(int fd) noexcept {
    if (fd_ >= 0) {
        ::close(fd_);
    }
    fd_ = fd;
}

}  // namespace mvmm
