// Test helper: reads a cpio archive back with libarchive.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mvmm::test {

struct CpioMember {
    std::string path;
    unsigned type = 0;  // AE_IFREG, AE_IFDIR, ...
    unsigned perm = 0;
    std::int64_t uid = -1, gid = -1, mtime = -1, ino = -1;
    std::string data;     // regular files
    std::string symlink;  // symlinks
    unsigned rdev_major = 0, rdev_minor = 0;
};

// Every member in archive order; throws std::runtime_error on a bad archive.
std::vector<CpioMember> read_cpio(const std::filesystem::path& file);

std::string read_file_bytes(const std::filesystem::path& file);

}  // namespace mvmm::test
