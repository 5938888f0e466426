#include <cerrno>
#include <cstdlib>

#include <sys/stat.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/runtime_dir.hpp>
#include <mvmm/common/strings.hpp>

namespace mvmm {
namespace {

// Makes `dir` if needed and checks that it is a folder owned by us, mode 0700.
void make_private(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
        throw_errno(cat("runtime folder ", quote(dir.string())));
    }
    struct stat st {};
    if (::lstat(dir.c_str(), &st) != 0) {
        throw_errno(cat("runtime folder ", quote(dir.string())));
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != ::geteuid()) {
        throw Error(
            cat("runtime folder ", quote(dir.string()), ": not a folder owned by this user"));
    }
    if ((st.st_mode & 0077) != 0 && ::chmod(dir.c_str(), 0700) != 0) {
        throw_errno(cat("runtime folder ", quote(dir.string()), ": chmod 0700"));
    }
}

}  // namespace

RuntimeDir::RuntimeDir(const std::string& name) {
    std::filesystem::path base;
    if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg != nullptr && *xdg == '/') {
        base = std::filesystem::path(xdg) / "mshare-vmm";
    } else {
        base = std::filesystem::temp_directory_path() / cat("mshare-vmm-", ::geteuid());
    }
    make_private(base);
    path_ = base / cat(name, "-", ::getpid());
    make_private(path_);
}

RuntimeDir::~RuntimeDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

}  // namespace mvmm
