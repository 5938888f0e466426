#include <gtest/gtest.h>
#include <sys/stat.h>

#include <mvmm/qemu/ram_folder.hpp>

#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

TEST(RamFolder, RuntimeFolderOnTmpfsIsUsedAsItIs) {
    if (!is_memory_file_system("/dev/shm")) {
        GTEST_SKIP() << "/dev/shm is not a tmpfs here";
    }
    const auto runtime = std::filesystem::path("/dev/shm") / "mvmm-ram-folder-test";
    std::filesystem::create_directory(runtime);
    {
        const RamFolder folder(runtime);
        EXPECT_EQ(folder.path(), runtime);
        EXPECT_FALSE(folder.separate());
    }
    EXPECT_TRUE(std::filesystem::exists(runtime));  // not ours to remove
    std::filesystem::remove_all(runtime);
}

TEST(RamFolder, RuntimeFolderOnDiskMovesRamToAPrivateShmFolder) {
    test::TempDir runtime;
    if (is_memory_file_system(runtime.path()) || !is_memory_file_system("/dev/shm")) {
        GTEST_SKIP() << "needs a temporary folder on disk and a tmpfs at /dev/shm";
    }
    std::filesystem::path made;
    {
        const RamFolder folder(runtime.path());
        made = folder.path();
        EXPECT_TRUE(folder.separate());
        EXPECT_EQ(made.parent_path().parent_path(), "/dev/shm");
        EXPECT_EQ(made.filename(), runtime.path().filename());
        EXPECT_TRUE(is_memory_file_system(made));
        struct stat st {};
        ASSERT_EQ(::stat(made.c_str(), &st), 0);
        EXPECT_EQ(st.st_mode & 0777, 0700U);
    }
    EXPECT_FALSE(std::filesystem::exists(made));
}

TEST(RamFolder, WithoutATmpfsTheRuntimeFolderIsUsed) {
    test::TempDir runtime;
    test::TempDir not_shm;
    if (is_memory_file_system(not_shm.path())) {
        GTEST_SKIP() << "the temporary folder is itself on tmpfs";
    }
    const RamFolder folder(runtime.path(), not_shm.path());
    EXPECT_EQ(folder.path(), runtime.path());
    EXPECT_FALSE(folder.separate());
}

}  // namespace
}  // namespace mvmm
