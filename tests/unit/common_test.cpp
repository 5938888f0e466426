#include <cerrno>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/mapping.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/common/unique_fd.hpp>

namespace mvmm {
namespace {

TEST(Strings, HexAndQuoted) {
    EXPECT_EQ(hex(0), "0x0");
    EXPECT_EQ(hex(0x202), "0x202");
    EXPECT_EQ(hex(0xffffffffffffffffULL), "0xffffffffffffffff");
    EXPECT_EQ(quote("a'b\n"), "'a\\'b\\x0a'");
}

TEST(Strings, SplitTrimStartsWith) {
    EXPECT_EQ(split("a,b,,c", ','), (std::vector<std::string>{"a", "b", "", "c"}));
    EXPECT_EQ(split("", ','), (std::vector<std::string>{""}));
    EXPECT_EQ(trim("  x y \r\n"), "x y");
    EXPECT_TRUE(starts_with("MemTotal:", "Mem"));
    EXPECT_FALSE(starts_with("Me", "Mem"));
}

TEST(Strings, HumanBytes) {
    EXPECT_EQ(human_bytes(12), "12 B");
    EXPECT_EQ(human_bytes(4096), "4.0 KiB");
    EXPECT_EQ(human_bytes(3ULL << 30), "3.0 GiB");
}

TEST(Errors, ThrowErrnoNamesTheThingAndTheReason) {
    try {
        throw_errno("opening 'x'", ENOENT);
        FAIL() << "no exception";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "opening 'x': No such file or directory");
    }
}

TEST(UniqueFd, ClosesOnDestructionAndMoves) {
    int raw = -1;
    {
        UniqueFd fd(::open("/dev/null", O_RDONLY | O_CLOEXEC));
        ASSERT_TRUE(fd.valid());
        raw = fd.get();
        UniqueFd moved(std::move(fd));
        EXPECT_FALSE(fd.valid());  // NOLINT(bugprone-use-after-move): checking the moved-from state
        EXPECT_EQ(moved.get(), raw);
    }
    errno = 0;
    EXPECT_EQ(::fcntl(raw, F_GETFD), -1);
    EXPECT_EQ(errno, EBADF);
}

TEST(Mapping, MapsAndUnmaps) {
    Mapping m("test", 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1);
    ASSERT_TRUE(m.valid());
    m.data()[8191] = std::byte{7};
    EXPECT_EQ(m.bytes().size(), 8192U);
    Mapping other(std::move(m));
    EXPECT_FALSE(m.valid());  // NOLINT(bugprone-use-after-move)
    EXPECT_EQ(other.data()[8191], std::byte{7});
}

TEST(Mapping, FailureNamesWhat) {
    try {
        Mapping m("guest RAM 'x'", 4096, PROT_READ, MAP_SHARED, -1);
        FAIL() << "no exception";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("guest RAM 'x': mmap of 4.0 KiB failed"),
                  std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace mvmm
