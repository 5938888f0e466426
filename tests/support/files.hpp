// Reading files in tests.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace mvmm::test {

// The whole file, bytes as they are; empty if it cannot be read.
inline std::string read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

// Every file in `folder` (for example a fuzz target's seeds), in directory order.
inline std::vector<std::string> read_files_in(const std::filesystem::path& folder) {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(folder)) {
        out.push_back(read_file(entry.path()));
    }
    return out;
}

}  // namespace mvmm::test
