#include <cerrno>
#include <cstring>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm {

std::string errno_text(int err) {
    char buf[256];
    // GNU strerror_r returns a pointer that may or may not be buf.
    const char* text = strerror_r(err, buf, sizeof buf);
    return text;
}

void throw_errno(std::string_view what) {
    throw_errno(what, errno);
}

void throw_errno(std::string_view what, int err) {
    throw Error(cat(what, ": ", errno_text(err)));
}

}  // namespace mvmm
