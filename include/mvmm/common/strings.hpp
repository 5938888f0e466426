// Small string helpers shared by the VMM's libraries (g++ 12 has no <format>).
#pragma once

#include <cstdint>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm {

// Concatenates anything streamable: cat("vcpu ", 3, ": ", reason).
template <typename... Args>
std::string cat(const Args&... args) {
    std::ostringstream out;
    (out << ... << args);
    return out.str();
}

// "0x1f" style hexadecimal.
std::string hex(std::uint64_t value);

// Single-quoted, with control characters escaped, for names in error messages.
std::string quote(std::string_view text);

std::vector<std::string> split(std::string_view text, char sep);
std::string_view trim(std::string_view text);
bool starts_with(std::string_view text, std::string_view prefix);

// Human-readable byte count: "4.0 KiB", "1.5 GiB".
std::string human_bytes(std::uint64_t bytes);

}  // namespace mvmm
