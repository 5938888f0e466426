// The initramfs that this build made: it has /init, busybox with its applets,
// and every guest program, byte for byte.
#include <map>

#include <archive_entry.h>
#include <gtest/gtest.h>

#include "cpio_reader.hpp"
#include "manifest.hpp"

namespace {

#ifdef MVMM_BUILT_INITRAMFS
TEST(BuiltInitramfs, HasInitBusyboxAndEveryGuestProgram) {
    const std::filesystem::path cpio = MVMM_BUILT_INITRAMFS;
    if (!std::filesystem::exists(cpio)) {
        GTEST_SKIP() << "initramfs not built yet: " << cpio << " (run make)";
    }
    std::map<std::string, mvmm::test::CpioMember> members;
    for (auto& m : mvmm::test::read_cpio(cpio)) {
        members.emplace(m.path, std::move(m));
    }
    ASSERT_TRUE(members.count("init"));
    EXPECT_EQ(members["init"].perm, 0755u);
    EXPECT_EQ(members["init"].data.substr(0, 2), "#!");
    ASSERT_TRUE(members.count("bin/busybox"));
    ASSERT_TRUE(members.count("bin/sh"));
    EXPECT_EQ(members["bin/sh"].symlink, "/bin/busybox");
    ASSERT_TRUE(members.count("dev/console"));
    EXPECT_EQ(members["dev/console"].type, static_cast<unsigned>(AE_IFCHR));

    mvmm::initramfs::Manifest programs;
    programs.parse_file(MVMM_PROGRAMS_MANIFEST);
    std::size_t count = 0;
    for (const auto& entry : programs.entries()) {
        if (entry.type != mvmm::initramfs::EntryType::file) {
            continue;
        }
        ++count;
        ASSERT_TRUE(members.count(entry.path)) << entry.path;
        EXPECT_EQ(members[entry.path].data, mvmm::test::read_file_bytes(entry.source))
            << entry.path << " differs from " << entry.source;
    }
    EXPECT_GE(count, 1u);
    EXPECT_TRUE(members.count("bin/mvmm-marker"));
}
#endif

}  // namespace
