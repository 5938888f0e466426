#include "system_info.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include "support/temp_dir.hpp"

namespace mvmm::agent {
namespace {

TEST(Meminfo, ConvertsKilobytesToBytesAndKeepsCounts) {
    const auto m = parse_meminfo(
        "MemTotal:        2014432 kB\n"
        "MemFree:         1858864 kB\n"
        "PageTables:          708 kB\n"
        "HugePages_Total:       4\n"
        "Hugepagesize:       2048 kB\n"
        "garbage line\n"
        "Broken:       12x kB\n");
    EXPECT_EQ(m["MemTotal"], 2014432ull * 1024);
    EXPECT_EQ(m["PageTables"], 708ull * 1024);
    EXPECT_EQ(m["HugePages_Total"], 4);
    EXPECT_EQ(m["Hugepagesize"], 2048ull * 1024);
    EXPECT_FALSE(m.contains("Broken"));
    EXPECT_EQ(m.size(), 5u);
}

TEST(Meminfo, ParsesThisHostsMeminfo) {
    const auto text = read_small_file("/proc/meminfo");
    ASSERT_TRUE(text);
    const auto m = parse_meminfo(*text);
    EXPECT_GT(m["MemTotal"].get<std::uint64_t>(), 0u);
    EXPECT_TRUE(m.contains("PageTables"));
}

std::string note(std::uint32_t type, std::string_view name, std::string_view desc) {
    std::string out;
    const auto u32 = [&](std::uint32_t v) {
        for (int i = 0; i < 4; ++i) {
            out += static_cast<char>((v >> (8 * i)) & 0xff);
        }
    };
    u32(static_cast<std::uint32_t>(name.size()));
    u32(static_cast<std::uint32_t>(desc.size()));
    u32(type);
    out += name;
    out.append((4 - name.size() % 4) % 4, '\0');
    out += desc;
    out.append((4 - desc.size() % 4) % 4, '\0');
    return out;
}

TEST(BuildId, FindsTheGnuNoteAmongOthers) {
    const std::string notes = note(6, std::string_view("Xen\0", 4), "abcde") +
                              note(3, std::string_view("GNU\0", 4), "\x01\x23\xab\xff") +
                              note(1, std::string_view("Linux\0", 6), "x");
    EXPECT_EQ(parse_build_id(notes), "0123abff");
    EXPECT_EQ(parse_build_id(note(1, std::string_view("GNU\0", 4), "zz")), std::nullopt);
    EXPECT_EQ(parse_build_id(notes.substr(0, 30)), std::nullopt);  // truncated
    EXPECT_EQ(parse_build_id(""), std::nullopt);
}

TEST(Processes, ParsesStatWithAwkwardCommAndStatus) {
    const std::string stat =
        "1234 (my (odd) prog) S 1 1234 1234 0 -1 4194560 5571 0 3 0 10 20 0 0 20 0 1 0 "
        "100 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
    const std::string status =
        "Name:\tmy (odd) prog\nUid:\t0\t0\t0\t0\nVmRSS:\t     800 kB\nVmPTE:\t      48 kB\n";
    const auto p = parse_process(1234, stat, status);
    ASSERT_TRUE(p);
    EXPECT_EQ((*p)["pid"], 1234);
    EXPECT_EQ((*p)["comm"], "my (odd) prog");
    EXPECT_EQ((*p)["state"], "S");
    EXPECT_EQ((*p)["ppid"], 1);
    EXPECT_EQ((*p)["minflt"], 5571);
    EXPECT_EQ((*p)["majflt"], 3);
    EXPECT_EQ((*p)["threads"], 1);
    EXPECT_EQ((*p)["vm-pte"], 48 * 1024);
    EXPECT_EQ((*p)["vm-rss"], 800 * 1024);
    EXPECT_EQ((*p)["kernel-thread"], false);
    EXPECT_EQ((*p)["uid"], 0);
    EXPECT_FALSE(parse_process(1, "1 (x S 1", status));
    EXPECT_FALSE(parse_process(1, "1 (x) S 1 2 3", status));
}

TEST(Processes, KernelThreadsHaveNoPageTables) {
    const std::string stat =
        "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0 "
        "18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 0 0 0 0 0";
    const auto p = parse_process(2, stat, "Name:\tkthreadd\n");
    ASSERT_TRUE(p);
    EXPECT_EQ((*p)["kernel-thread"], true);
    EXPECT_EQ((*p)["vm-pte"], 0);
}

TEST(Processes, ListsAFakeProcTreeSkippingVanishedAndNonPidEntries) {
    test::TempDir proc;
    proc.write("10/stat", "10 (a) R 1 10 10 0 -1 0 7 0 0 0 0 0 0 0 20 0 1 0 1 2 3 4");
    proc.write("10/status", "VmPTE:\t4 kB\n");
    proc.write("9/stat", "9 (b) S 1 9 9 0 -1 0 1 0 0 0 0 0 0 0 20 0 2 0 1 2 3 4");
    proc.write("9/status", "VmPTE:\t8 kB\n");
    proc.write("11/stat", "11 (gone) S");  // unparsable: left out
    proc.write("11/status", "");
    proc.write("12/status", "");  // no stat: exited meanwhile
    proc.write("self/stat", "");
    proc.write("meminfo", "");
    const auto list = list_processes(proc.path());
    ASSERT_EQ(list.size(), 2u);
    EXPECT_EQ(list[0]["pid"], 9);
    EXPECT_EQ(list[0]["threads"], 2);
    EXPECT_EQ(list[1]["pid"], 10);
    EXPECT_EQ(list[1]["vm-pte"], 4096);
}

TEST(Processes, ListsThisHostIncludingOurselves) {
    const auto list = list_processes("/proc");
    bool found = false;
    for (const auto& p : list) {
        if (p["pid"] == ::getpid()) {
            found = true;
            EXPECT_GT(p["vm-pte"].get<std::uint64_t>(), 0u);
            EXPECT_GT(p["minflt"].get<std::uint64_t>(), 0u);
        }
    }
    EXPECT_TRUE(found);
}

}  // namespace
}  // namespace mvmm::agent
