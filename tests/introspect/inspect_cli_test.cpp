// `mshare-vmm inspect` on saved images: the JSON report, the summary, and
// refusals with a message and a non-zero exit status.
#include <array>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <mvmm/introspect/image_metadata.hpp>
#include <mvmm/introspect/synthetic_kernel.hpp>
#include <mvmm/memory/memory_image.hpp>

#include "support/shell.hpp"
#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

constexpr std::uint64_t kRegion = 0x0000'7f00'0000'0000ULL;

using Result = test::CommandResult;

// Runs the binary; stderr is included in `out` unless `quiet`.
Result run(const std::string& args, bool quiet = false) {
    const std::string cmd = std::string(MVMM_BINARY_DIR) + "/vmm/app/mshare-vmm " + args +
                            (quiet ? " 2>/dev/null" : " 2>&1");
    return test::run_shell(cmd);
}

class InspectCli : public ::testing::Test {
  protected:
    void SetUp() override {
        walker::SyntheticMemory mem(64 * kMiB);
        SyntheticKernel kernel(mem);
        const auto data = mem.alloc(512);
        const auto host = kernel.new_root();
        mem.map(host, kRegion, data, 2 * kMiB);
        const auto pud = mem.table_for(host, kRegion, 3);
        for (int i = 0; i < 3; ++i) {
            const auto root = kernel.new_root();
            mem.set_entry(root, walker::table_index(kRegion, 4), pud | walker::kTableFlags);
            kernel.add_process(100 + i, "worker", root);
        }
        kernel.set_share_count(pud, 3);
        ImageMetadata meta;
        meta.engine = "synthetic";
        meta.vcpus = {kernel.registers()};
        image = dir.path() / "guest.img";
        write_memory_image(image, mem.view(), meta.to_text());
        profile = dir.write("profile.json", kernel.profile_json().dump());
        auto other = kernel.profile_json();
        other["build_id"] = "aa";
        other_profile = dir.write("other.json", other.dump());
    }
    test::TempDir dir;
    std::filesystem::path image;
    std::filesystem::path profile;
    std::filesystem::path other_profile;
};

TEST_F(InspectCli, PrintsTheAccountingReport) {
    const auto r = run("inspect " + image.string() + " --profile " + profile.string(), true);
    ASSERT_EQ(r.status, 0) << r.out;
    const auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["source"]["kind"], "image");
    EXPECT_EQ(j["source"]["engine"], "synthetic");
    EXPECT_EQ(j["processes"].size(), 3U);
    ASSERT_EQ(j["mshare"]["shared_puds"].size(), 1U);
    EXPECT_EQ(j["mshare"]["shared_puds"][0]["sharers"], (std::vector<int>{100, 101, 102}));
    EXPECT_EQ(j["mshare"]["shared_puds"][0]["status"], "consistent");
    EXPECT_TRUE(j["kvm"].contains("absent_reason"));
    EXPECT_TRUE(j["host"].contains("absent_reason"));
}

TEST_F(InspectCli, SummaryAndNoProfile) {
    auto r = run("inspect " + image.string() + " --summary");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("roots from scan"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("shared PUD"), std::string::npos) << r.out;
    const auto out = dir.path() / "report.json";
    r = run("inspect " + image.string() + " --profile " + profile.string() + " -o " + out.string());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(std::filesystem::file_size(out) > 100);
}

TEST_F(InspectCli, RefusesAProfileOfAnotherBuildAndFilesThatAreNotImages) {
    auto r = run("inspect " + image.string() + " --profile " + other_profile.string());
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("does not match the running guest"), std::string::npos) << r.out;
    r = run("inspect " + profile.string());
    EXPECT_EQ(r.status, 1);
    EXPECT_NE(r.out.find("not a mshare-vmm memory image"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace mvmm
