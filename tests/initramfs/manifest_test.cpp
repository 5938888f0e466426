#include "manifest.hpp"

#include <filesystem>

#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>

#include "support/temp_dir.hpp"

namespace mvmm::initramfs {
namespace {

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

TEST(InitramfsManifest, NormalizesPaths) {
    EXPECT_EQ(normalize_path("/bin//sh/"), "bin/sh");
    EXPECT_EQ(normalize_path("./init"), "init");
    EXPECT_THROW(normalize_path("/"), Error);
    EXPECT_THROW(normalize_path(""), Error);
    EXPECT_THROW(normalize_path("bin/../etc"), Error);
}

TEST(InitramfsManifest, ParsesEveryDirectiveAndAddsParents) {
    Manifest m;
    m.parse(
        "# comment\n"
        "dir  /tmp 1777\n"
        "file /usr/bin/tool tool.bin 0755   # trailing comment\n"
        "slink /bin/sh busybox\n"
        "nod /dev/console 0600 c 5 1\n"
        "\n",
        "test", "/src");
    const auto entries = m.entries();
    std::vector<std::string> paths;
    for (const auto& e : entries) {
        paths.push_back(e.path);
    }
    EXPECT_EQ(paths, (std::vector<std::string>{"bin", "bin/sh", "dev", "dev/console", "tmp", "usr",
                                               "usr/bin", "usr/bin/tool"}));
    const Entry* tool = m.find("usr/bin/tool");
    ASSERT_NE(tool, nullptr);
    EXPECT_EQ(tool->type, EntryType::file);
    EXPECT_EQ(tool->mode, 0755u);
    EXPECT_EQ(tool->source, std::filesystem::path("/src/tool.bin"));
    EXPECT_EQ(m.find("tmp")->mode, 01777u);
    EXPECT_EQ(m.find("usr")->mode, 0755u);
    EXPECT_EQ(m.find("bin/sh")->target, "busybox");
    EXPECT_EQ(m.find("dev/console")->type, EntryType::char_device);
    EXPECT_EQ(m.find("dev/console")->major, 5u);
    EXPECT_EQ(m.find("dev/console")->minor, 1u);
}

TEST(InitramfsManifest, ErrorsNameTheLineAndTheProblem) {
    Manifest m;
    EXPECT_EQ(error_of([&] { m.parse("dir a 0755\nfrob x\n", "m.txt", "/"); }),
              "manifest 'm.txt' line 2: unknown directive 'frob' (known: dir, file, slink, nod, "
              "busybox)");
    EXPECT_EQ(error_of([&] { m.parse("file a\n", "m.txt", "/"); }),
              "manifest 'm.txt' line 1: 'file' takes PATH SOURCE MODE");
    EXPECT_EQ(error_of([&] { m.parse("dir b 0999\n", "m.txt", "/"); }),
              "manifest 'm.txt' line 1: mode '0999' is not an octal number of up to 4 digits");
    EXPECT_EQ(error_of([&] { m.parse("nod d 0600 x 1 2\n", "m.txt", "/"); }),
              "manifest 'm.txt' line 1: device type 'x' is not 'c' or 'b'");
    EXPECT_EQ(error_of([&] { m.parse("slink ../x y\n", "m.txt", "/"); }),
              "manifest 'm.txt' line 1: initramfs path '../x': '..' is not allowed");
}

TEST(InitramfsManifest, RejectsConflictsButAcceptsRepeats) {
    Manifest m;
    m.parse("file bin/x /x 0755\n", "a", "/");
    m.parse("file bin/x /x 0755\n", "b", "/");  // identical: fine
    EXPECT_EQ(error_of([&] { m.parse("slink bin/x y\n", "c", "/"); }),
              "manifest 'c' line 1: initramfs path 'bin/x': already added as a file");
    EXPECT_EQ(error_of([&] { m.parse("file bin/x/y /y 0644\n", "d", "/"); }),
              "manifest 'd' line 1: initramfs path 'bin/x/y': parent 'bin/x' is a file, not a dir");
    m.parse("dir bin 0700\n", "e", "/");  // restating a folder changes its mode
    EXPECT_EQ(m.find("bin")->mode, 0700u);
}

TEST(InitramfsManifest, BusyboxAddsAppletLinksThatExplicitEntriesOverride) {
    if (!std::filesystem::exists("/bin/busybox")) {
        GTEST_SKIP() << "/bin/busybox not installed (Debian package busybox-static)";
    }
    Manifest m;
    m.parse("busybox bin/busybox /bin/busybox\nfile bin/ls /bin/busybox 0700\n", "bb", "/");
    ASSERT_NE(m.find("bin/busybox"), nullptr);
    EXPECT_EQ(m.find("bin/busybox")->type, EntryType::file);
    ASSERT_NE(m.find("bin/sh"), nullptr);
    EXPECT_EQ(m.find("bin/sh")->type, EntryType::symlink);
    EXPECT_EQ(m.find("bin/sh")->target, "/bin/busybox");
    ASSERT_NE(m.find("bin/ls"), nullptr);
    EXPECT_EQ(m.find("bin/ls")->type, EntryType::file);
    EXPECT_GT(m.size(), 100u);
}

TEST(InitramfsManifest, BusyboxThatDoesNotRunIsAnError) {
    test::TempDir dir;
    const auto fake = dir.write("busybox", "not a program");
    Manifest m;
    const auto text = "busybox bin/busybox " + fake.string() + "\n";
    const auto err = error_of([&] { m.parse(text, "bb", "/"); });
    EXPECT_NE(err.find("manifest 'bb' line 1: busybox '" + fake.string() + "'"), std::string::npos)
        << err;
}

}  // namespace
}  // namespace mvmm::initramfs
