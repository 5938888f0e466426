// The applets a busybox binary provides, from `busybox --list-full`.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace mvmm::initramfs {

// Runs `<binary> --list-full` and returns its lines ("bin/ls", "usr/bin/[",
// ...), sorted. Throws Error if the binary does not run or lists nothing.
std::vector<std::string> busybox_applets(const std::filesystem::path& binary);

}  // namespace mvmm::initramfs
