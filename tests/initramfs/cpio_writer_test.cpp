#include "cpio_writer.hpp"

#include <archive_entry.h>
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>

#include "cpio_reader.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::initramfs {
namespace {

Manifest sample(const test::TempDir& dir, const char* init_text = "hello, guest\n") {
    dir.write("hello.txt", init_text);
    dir.write("empty", "");
    Manifest m;
    m.parse(
        "file init hello.txt 0755\n"
        "file etc/empty empty 0644\n"
        "slink bin/sh /bin/busybox\n"
        "nod dev/console 0600 c 5 1\n"
        "nod dev/vda 0660 b 254 0\n"
        "dir tmp 1777\n",
        "sample", dir.path());
    return m;
}

TEST(InitramfsCpio, WritesEveryEntryTypeWithFixedOwnerAndTime) {
    test::TempDir dir;
    const auto out = dir.path() / "out.cpio";
    write_cpio(sample(dir), out, CpioOptions{.mtime = 1234567, .require_static_elf = true});
    const auto members = test::read_cpio(out);
    std::vector<std::string> paths;
    for (const auto& m : members) {
        paths.push_back(m.path);
        EXPECT_EQ(m.uid, 0) << m.path;
        EXPECT_EQ(m.gid, 0) << m.path;
        EXPECT_EQ(m.mtime, 1234567) << m.path;
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"bin", "bin/sh", "dev", "dev/console", "dev/vda",
                                               "etc", "etc/empty", "init", "tmp"}));
    EXPECT_EQ(members[1].type, static_cast<unsigned>(AE_IFLNK));
    EXPECT_EQ(members[1].symlink, "/bin/busybox");
    EXPECT_EQ(members[3].type, static_cast<unsigned>(AE_IFCHR));
    EXPECT_EQ(members[3].rdev_major, 5u);
    EXPECT_EQ(members[3].rdev_minor, 1u);
    EXPECT_EQ(members[4].type, static_cast<unsigned>(AE_IFBLK));
    EXPECT_EQ(members[4].rdev_major, 254u);
    EXPECT_EQ(members[6].data, "");
    EXPECT_EQ(members[7].type, static_cast<unsigned>(AE_IFREG));
    EXPECT_EQ(members[7].perm, 0755u);
    EXPECT_EQ(members[7].data, "hello, guest\n");
    EXPECT_EQ(members[8].perm, 01777u);
    // Inode numbers are distinct, so the kernel never treats two files as hard links.
    for (std::size_t i = 1; i < members.size(); ++i) {
        EXPECT_NE(members[i].ino, members[i - 1].ino);
    }
}

TEST(InitramfsCpio, SameInputsGiveSameBytes) {
    test::TempDir dir;
    write_cpio(sample(dir), dir.path() / "a.cpio");
    write_cpio(sample(dir), dir.path() / "b.cpio");
    const auto a = test::read_file_bytes(dir.path() / "a.cpio");
    EXPECT_FALSE(a.empty());
    EXPECT_EQ(a, test::read_file_bytes(dir.path() / "b.cpio"));
    // newc: every header starts with the magic "070701"; the archive ends with the trailer.
    EXPECT_EQ(a.substr(0, 6), "070701");
    EXPECT_NE(a.find("TRAILER!!!"), std::string::npos);

    write_cpio(sample(dir, "changed\n"), dir.path() / "c.cpio");
    EXPECT_NE(a, test::read_file_bytes(dir.path() / "c.cpio"));
}

TEST(InitramfsCpio, MissingSourceIsAnErrorAndLeavesNoOutput) {
    test::TempDir dir;
    Manifest m;
    m.parse("file init does-not-exist 0755\n", "m", dir.path());
    const auto out = dir.path() / "out.cpio";
    try {
        write_cpio(m, out);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("initramfs entry 'init': cannot open source"),
                  std::string::npos)
            << e.what();
    }
    EXPECT_FALSE(std::filesystem::exists(out));
    EXPECT_FALSE(std::filesystem::exists(out.string() + ".tmp"));
}

TEST(InitramfsCpio, RefusesDynamicallyLinkedPrograms) {
    // The test binary itself is dynamically linked.
    const auto self = std::filesystem::read_symlink("/proc/self/exe");
    const auto data = test::read_file_bytes(self);
    ASSERT_TRUE(elf_needs_interpreter(data));
    EXPECT_FALSE(elf_needs_interpreter("#!/bin/sh\necho hi\n"));
    EXPECT_FALSE(elf_needs_interpreter(data.substr(0, 10)));
    if (std::filesystem::exists("/bin/busybox")) {
        EXPECT_FALSE(elf_needs_interpreter(test::read_file_bytes("/bin/busybox")));
    }

    test::TempDir dir;
    Manifest m;
    m.parse("file bin/prog " + self.string() + " 0755\n", "m", dir.path());
    try {
        write_cpio(m, dir.path() / "out.cpio");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("is dynamically linked"), std::string::npos)
            << e.what();
    }
    write_cpio(m, dir.path() / "out.cpio", CpioOptions{.mtime = 0, .require_static_elf = false});
}

}  // namespace
}  // namespace mvmm::initramfs
