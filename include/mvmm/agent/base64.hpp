// Base64 (RFC 4648, with padding), as the agent protocol carries binary data.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mvmm::agent {

std::string base64_encode(std::string_view data);

// Decodes padded or unpadded base64; whitespace is ignored. Anything else
// that is not in the alphabet, or a bad length, gives nullopt.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace mvmm::agent
