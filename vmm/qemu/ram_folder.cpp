#include <cerrno>

#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/qemu/ram_folder.hpp>

namespace mvmm {
namespace {

// Makes `dir` if needed and checks that it is a folder of ours with mode 0700.
void make_private(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        throw_errno(cat("guest RAM folder ", quote(dir.string())));
    }
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        throw_errno(cat("guest RAM folder ", quote(dir.string())));
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
        throw Error(
            cat("guest RAM folder ", quote(dir.string()), ": not a folder owned by this user"));
    }
    if ((st.st_mode & 0077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
        throw_errno(cat("guest RAM folder ", quote(dir.string()), ": chmod 0700"));
    }
}

}  // namespace

bool is_memory_file_system(const std::filesystem::path& path) {
    struct statfs fs {};
    if (::statfs(path.c_str(), &fs) != 0) {
        return false;
    }
    return fs.f_type == TMPFS_MAGIC || fs.f_type == HUGETLBFS_MAGIC;
}

RamFolder::RamFolder(const std::filesystem::path& runtime_dir, const std::filesystem::path& shm) {
    if (is_memory_file_system(runtime_dir) || !is_memory_file_system(shm)) {
        path_ = runtime_dir;
        return;
    }
    const auto base = shm / cat("mshare-vmm-", ::geteuid());
    make_private(base);
    path_ = base / runtime_dir.filename();
    make_private(path_);
    owned_ = true;
}

RamFolder::~RamFolder() {
    if (owned_) {
        std::error_code ec;
        std::filesystem::remove_all(path_, ec);
    }
}

}  // namespace mvmm
