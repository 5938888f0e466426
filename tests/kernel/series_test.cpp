// The guest-kernel patch series as files: its shape, the uAPI header it adds
// (identical to ours), and the console checker of the guest test runner.
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <linux/msharefs.h>
#include <sys/wait.h>

#include "support/temp_dir.hpp"

namespace {

namespace fs = std::filesystem;

fs::path source_dir() {
    return fs::path{MVMM_SOURCE_DIR};
}
fs::path patch_dir() {
    return source_dir() / "guest-kernel-patch";
}

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        ADD_FAILURE() << "cannot read " << path;
        return {};
    }
    std::ostringstream out;
    out << in.rdbuf();
    return out.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        lines.push_back(line);
    }
    return lines;
}

// The patch file names listed in guest-kernel-patch/series, in order.
std::vector<std::string> series() {
    std::vector<std::string> names;
    for (auto line : lines_of(read_file(patch_dir() / "series"))) {
        line = line.substr(0, line.find('#'));
        line.erase(0, line.find_first_not_of(" \t"));
        line.erase(line.find_last_not_of(" \t\r") + 1);
        if (!line.empty()) {
            names.push_back(line);
        }
    }
    return names;
}

// The content of a file created by a patch: the '+' lines of its new-file hunk.
// Returns false if the patch does not create `path`.
bool new_file_in_patch(const std::string& patch, const std::string& path, std::string& content) {
    const auto lines = lines_of(patch);
    const std::string header = "diff --git a/" + path + " b/" + path;
    for (size_t i = 0; i < lines.size(); ++i) {
        if (lines[i] != header) {
            continue;
        }
        size_t j = i + 1;
        bool created = false;
        for (; j < lines.size() && lines[j].rfind("@@", 0) != 0; ++j) {
            created = created || lines[j].rfind("new file mode", 0) == 0;
        }
        if (!created || j == lines.size()) {
            return false;
        }
        std::smatch m;
        const std::regex hunk(R"(^@@ -0,0 \+1(?:,(\d+))? @@)");
        if (!std::regex_search(lines[j], m, hunk)) {
            ADD_FAILURE() << "unexpected hunk header for " << path << ": " << lines[j];
            return false;
        }
        const size_t count = m[1].matched ? std::stoul(m[1].str()) : 1;
        content.clear();
        for (size_t k = 0; k < count; ++k) {
            const size_t at = j + 1 + k;
            if (at >= lines.size() || lines[at].empty() || lines[at][0] != '+') {
                ADD_FAILURE() << "new-file hunk of " << path << " is cut short at line " << k;
                return false;
            }
            content += lines[at].substr(1) + "\n";
        }
        return true;
    }
    return false;
}

TEST(KernelSeries, ListsNumberedPatchesInOrder) {
    const auto names = series();
    ASSERT_FALSE(names.empty()) << "guest-kernel-patch/series lists no patches";
    std::set<std::string> listed;
    for (size_t i = 0; i < names.size(); ++i) {
        std::string prefix = std::to_string(i + 1) + "-";
        prefix.insert(0, prefix.size() < 5 ? 5 - prefix.size() : 0, '0');
        EXPECT_EQ(names[i].rfind(prefix, 0), 0U) << names[i] << " is listed as patch " << i + 1;
        EXPECT_TRUE(fs::is_regular_file(patch_dir() / "patches" / names[i])) << names[i];
        listed.insert(names[i]);
    }
    for (const auto& entry : fs::directory_iterator(patch_dir() / "patches")) {
        EXPECT_TRUE(listed.count(entry.path().filename().string()))
            << entry.path().filename() << " is in patches/ but not in series";
    }
}

TEST(KernelSeries, EveryPatchHasAMessageAndASignOff) {
    for (const auto& name : series()) {
        const auto lines = lines_of(read_file(patch_dir() / "patches" / name));
        bool from = false;
        bool subject = false;
        bool signoff = false;
        size_t body = 0;
        size_t i = 0;
        for (; i < lines.size() && lines[i] != "---"; ++i) {
            from = from || lines[i].rfind("From: ", 0) == 0;
            subject = subject || lines[i].rfind("Subject: [PATCH", 0) == 0;
            signoff = signoff || lines[i].rfind("Signed-off-by: ", 0) == 0;
            body += subject && !lines[i].empty() ? 1 : 0;
        }
        EXPECT_TRUE(from && subject) << name << ": not in git format-patch form";
        EXPECT_TRUE(signoff) << name << ": no Signed-off-by";
        EXPECT_GE(body, 5U) << name << ": the commit message explains too little";
        EXPECT_LT(i, lines.size()) << name << ": no diffstat separator";
    }
}

TEST(KernelSeries, UapiHeaderIsIdenticalToOurs) {
    const std::string path = "include/uapi/linux/msharefs.h";
    const std::string ours = read_file(source_dir() / path);
    int creators = 0;
    for (const auto& name : series()) {
        std::string theirs;
        if (new_file_in_patch(read_file(patch_dir() / "patches" / name), path, theirs)) {
            ++creators;
            EXPECT_EQ(theirs, ours)
                << name << " adds a " << path << " that differs from the repository's";
        }
    }
    EXPECT_EQ(creators, 1) << "exactly one patch must create " << path;
}

TEST(KernelSeries, UapiHeaderMatchesTheContract) {
    static_assert(sizeof(struct mshare_create) == 40);
    static_assert(offsetof(struct mshare_create, region_offset) == 0);
    static_assert(offsetof(struct mshare_create, size) == 8);
    static_assert(offsetof(struct mshare_create, offset) == 16);
    static_assert(offsetof(struct mshare_create, prot) == 24);
    static_assert(offsetof(struct mshare_create, flags) == 28);
    static_assert(offsetof(struct mshare_create, fd) == 32);
    static_assert(sizeof(struct mshare_unmap) == 16);
    EXPECT_EQ(MSHAREFS_CREATE_MAPPING, 0x40287800UL);
    EXPECT_EQ(MSHAREFS_UNMAP, 0x40107801UL);
}

// Runs the guest test runner's console check on a log; returns its exit status.
int scan_log(const mvmm::test::TempDir& dir, const std::string& log) {
    const auto file = dir.write("console.log", log);
    const std::string cmd = (patch_dir() / "tests" / "run-qemu.sh").string() + " --scan-log " +
                            file.string() + " > /dev/null 2>&1";
    const int status = std::system(cmd.c_str());
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

constexpr const char* clean_run =
    "Linux version 6.12.117-mshare\n"
    "Run /init as init process\n"
    "TAP version 13\n1..2\nok 1 a\nok 2 b # SKIP why\n"
    "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:1 error:0\n"
    "MSHAREFS-TEST-EXIT: 0\n";

TEST(KernelTestRunner, AcceptsACleanRun) {
    const mvmm::test::TempDir dir;
    EXPECT_EQ(scan_log(dir, clean_run), 0);
}

// The project's /init (mvmm.run=, used by run-vmm.sh) reports the exit status
// in its own words.
TEST(KernelTestRunner, ReadsTheExitStatusThatInitReports) {
    const mvmm::test::TempDir dir;
    const std::string tap = "TAP version 13\n1..1\nok 1 a\n";
    EXPECT_EQ(scan_log(dir, tap + "init: mvmm.run: /bin/msharefs-test exited with status 0\n"), 0);
    EXPECT_EQ(scan_log(dir, tap + "init: mvmm.run: /bin/msharefs-test exited with status 1\n"), 1);
    EXPECT_EQ(scan_log(dir, tap + "init: mvmm.run: /bin/other exited with status 0\n"), 1)
        << "another program's status is not msharefs-test's";
}

TEST(KernelTestRunner, RejectsSplatsFailuresAndUnfinishedRuns) {
    const mvmm::test::TempDir dir;
    const std::map<std::string, std::string> bad = {
        {"warning", "WARNING: CPU: 1 PID: 77 at mm/memory.c:123 zap_pte_range+0x1/0x2\n"},
        {"kasan", "BUG: KASAN: slab-use-after-free in mshare_fault_begin+0x10/0x80\n"},
        {"lockdep", "WARNING: possible circular locking dependency detected\n"},
        {"lockdep info", "INFO: lockdep is turned off.\n"},
        {"oops", "Oops: general protection fault, probably for non-canonical address\n"},
        {"panic", "Kernel panic - not syncing: Fatal exception\n"},
        {"list", "list_del corruption. prev->next should be ffff888\n"},
        {"rcu", "INFO: rcu_sched self-detected stall on CPU\n"},
    };
    for (const auto& [what, line] : bad) {
        EXPECT_EQ(scan_log(dir, std::string(clean_run) + line), 1) << what;
    }
    EXPECT_EQ(scan_log(dir, "TAP version 13\n1..2\nok 1 a\n"), 1) << "unfinished";
    EXPECT_EQ(scan_log(dir, "not ok 1 a\nMSHAREFS-TEST-EXIT: 1\n"), 1) << "failed test";
}

}  // namespace
