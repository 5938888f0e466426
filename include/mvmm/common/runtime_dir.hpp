// The VMM's private runtime folder (mode 0700), removed with its contents
// when the VMM ends: $XDG_RUNTIME_DIR/mshare-vmm/<name>-<pid>, or
// /tmp/mshare-vmm-<uid>/<name>-<pid> without XDG_RUNTIME_DIR.
#pragma once

#include <filesystem>
#include <string>

namespace mvmm {

class RuntimeDir {
  public:
    // Throws Error naming the folder if it cannot be made private.
    explicit RuntimeDir(const std::string& name);
    RuntimeDir(const RuntimeDir&) = delete;
    RuntimeDir& operator=(const RuntimeDir&) = delete;
    ~RuntimeDir();

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

  private:
    std::filesystem::path path_;
};

}  // namespace mvmm
