// Where the QEMU engine puts the guest RAM file: the runtime folder if that
// is on tmpfs, otherwise a private folder (mode 0700) on /dev/shm. Guest RAM
// in a file on a disk file system costs block allocation on every first
// touch and background writeback of dirty guest pages to the disk.
#pragma once

#include <filesystem>

namespace mvmm {

class RamFolder {
  public:
    // Throws Error naming the folder if a private folder cannot be made.
    explicit RamFolder(const std::filesystem::path& runtime_dir,
                       const std::filesystem::path& shm = "/dev/shm");
    RamFolder(const RamFolder&) = delete;
    RamFolder& operator=(const RamFolder&) = delete;
    // Removes the folder (and the RAM file) if it made one.
    ~RamFolder();

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    // True if the folder is apart from the runtime folder (on /dev/shm).
    [[nodiscard]] bool separate() const noexcept { return owned_; }

  private:
    std::filesystem::path path_;
    bool owned_ = false;
};

// True if `path` is on a tmpfs (or hugetlbfs) file system.
bool is_memory_file_system(const std::filesystem::path& path);

}  // namespace mvmm
