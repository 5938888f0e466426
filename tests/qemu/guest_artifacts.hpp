// The guest kernel and initramfs the booting tests use: the project's build
// outputs (out/kernel/bzImage, out/initramfs/initramfs.cpio), or the files
// named by MVMM_TEST_KERNEL and MVMM_TEST_INITRAMFS.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace mvmm::test {

struct GuestArtifacts {
    std::filesystem::path kernel;
    std::filesystem::path initramfs;
};

inline std::filesystem::path artifact_path(const char* env, const char* relative) {
    if (const char* value = std::getenv(env); value != nullptr && *value != '\0') {
        return value;
    }
    return std::filesystem::path(MVMM_SOURCE_DIR) / relative;
}

// The artifacts, or nullopt with `why_not` set (for GTEST_SKIP).
inline std::optional<GuestArtifacts> find_guest_artifacts(std::string& why_not,
                                                          bool need_initramfs = true) {
    GuestArtifacts a{artifact_path("MVMM_TEST_KERNEL", "out/kernel/bzImage"),
                     artifact_path("MVMM_TEST_INITRAMFS", "out/initramfs/initramfs.cpio")};
    std::error_code ec;
    if (!std::filesystem::is_regular_file(a.kernel, ec)) {
        why_not = "no guest kernel at " + a.kernel.string() +
                  " (build it with guest-kernel-patch/build.sh, or set MVMM_TEST_KERNEL)";
        return std::nullopt;
    }
    if (need_initramfs && !std::filesystem::is_regular_file(a.initramfs, ec)) {
        why_not = "no initramfs at " + a.initramfs.string() +
                  " (build the CMake initramfs target, or set MVMM_TEST_INITRAMFS)";
        return std::nullopt;
    }
    return a;
}

}  // namespace mvmm::test
