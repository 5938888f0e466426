// Errors of the whole VMM: one exception type, messages that name the thing
// and the reason, e.g. "kernel image 'x': not a bzImage (no HdrS magic at 0x202)".
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace mvmm {

class Error : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

// The text of an errno value, e.g. "No such file or directory".
std::string errno_text(int err);

// Throws Error("<what>: <strerror(errno)>") using the current errno.
[[noreturn]] void throw_errno(std::string_view what);

// Throws Error("<what>: <strerror(err)>").
[[noreturn]] void throw_errno(std::string_view what, int err);

}  // namespace mvmm
