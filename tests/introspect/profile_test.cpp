// The profile reader: accepted files, and refusals that name the file and key.
#include <nlohmann/json.hpp>
#include <string>

#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/introspect/guest_figures.hpp>
#include <mvmm/introspect/image_metadata.hpp>
#include <mvmm/introspect/profile.hpp>
#include <mvmm/introspect/synthetic_kernel.hpp>

#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

nlohmann::json good_profile() {
    walker::SyntheticMemory mem(64 * kMiB);
    const SyntheticKernel kernel(mem);
    return kernel.profile_json();
}

std::string error_of(const nlohmann::json& doc) {
    try {
        (void)Profile::parse(doc, "p.json");
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

TEST(Profile, ReadsAGoodProfileFromAFile) {
    const test::TempDir dir;
    const auto doc = good_profile();
    const auto path = dir.write("profile.json", doc.dump(2));
    const auto p = Profile::load(path);
    EXPECT_EQ(p.source, path.string());
    EXPECT_EQ(p.kernel_release, "6.12.117-mshare");
    EXPECT_EQ(p.build_id, "0123456789abcdef0123456789abcdef01234567");
    EXPECT_EQ(p.offsets.task_pid, SyntheticKernel::kPid);
    EXPECT_EQ(p.offsets.ptdesc_share_count, SyntheticKernel::kShareCount);
    EXPECT_EQ(p.offsets.page_refcount, SyntheticKernel::kRefcount);
    EXPECT_EQ(p.require_symbol("init_task"), 0xffff'ffff'8000'2000ULL);
    EXPECT_TRUE(p.enabled("CONFIG_MSHARE"));
    EXPECT_FALSE(p.enabled("CONFIG_X86_5LEVEL"));
    EXPECT_FALSE(p.enabled("CONFIG_NOT_THERE"));
    EXPECT_FALSE(p.symbol("page_offset_base").has_value());
    EXPECT_THROW((void)p.require_symbol("nope"), Error);
}

TEST(Profile, RefusesMissingKeysWrongTypesAndUnknownFormats) {
    auto doc = good_profile();
    doc["offsets"].erase("task_struct.pid");
    EXPECT_EQ(error_of(doc), "profile 'p.json': key 'offsets.task_struct.pid' is missing");

    doc = good_profile();
    doc["offsets"]["task_struct.comm"] = "1896";
    EXPECT_NE(error_of(doc).find("key 'offsets.task_struct.comm' must be a non-negative integer"),
              std::string::npos);

    doc = good_profile();
    doc["symbols"]["init_task"] = 12345;
    EXPECT_NE(error_of(doc).find("key 'symbols.init_task' must be a hex string"),
              std::string::npos);

    doc = good_profile();
    doc["symbols"]["init_task"] = "0xfffg";
    EXPECT_NE(error_of(doc).find("is not hexadecimal"), std::string::npos);

    doc = good_profile();
    doc["symbols"].erase("linux_banner");
    EXPECT_NE(error_of(doc).find("key 'symbols.linux_banner' is missing"), std::string::npos);

    doc = good_profile();
    doc["format"] = "mshare-vmm-profile/2";
    EXPECT_NE(error_of(doc).find("key 'format' is 'mshare-vmm-profile/2'"), std::string::npos);

    doc = good_profile();
    doc["build_id"] = "xyz";
    EXPECT_NE(error_of(doc).find("key 'build_id' is not a hex string"), std::string::npos);

    doc = good_profile();
    doc["banner"] = "Linux versio 6";
    EXPECT_NE(error_of(doc).find("key 'banner'"), std::string::npos);

    doc = good_profile();
    doc["config"]["CONFIG_MSHARE"] = "y";
    EXPECT_NE(error_of(doc).find("key 'config.CONFIG_MSHARE' must be true or false"),
              std::string::npos);

    doc = good_profile();
    doc["offsets"].erase("ptdesc.pt_share_count");
    EXPECT_NE(error_of(doc).find("CONFIG_MSHARE is enabled"), std::string::npos);
    doc["config"]["CONFIG_MSHARE"] = false;
    EXPECT_EQ(error_of(doc), "");

    doc = good_profile();
    doc.erase("config");
    EXPECT_NE(error_of(doc).find("key 'config' is missing"), std::string::npos);

    EXPECT_NE(error_of(nlohmann::json::array()).find("not a JSON object"), std::string::npos);
}

TEST(Profile, RefusesFilesThatAreNotJson) {
    const test::TempDir dir;
    const auto bad = dir.write("bad.json", "{ nope");
    try {
        (void)Profile::load(bad);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("not valid JSON"), std::string::npos);
        EXPECT_NE(std::string(e.what()).find(bad.string()), std::string::npos);
    }
    EXPECT_THROW((void)Profile::load(dir.path() / "missing.json"), Error);
}

TEST(GuestFigures, ParsesProcTextAndJson) {
    EXPECT_EQ(GuestFigures::parse_meminfo_page_tables("MemTotal: 1 kB\nPageTables:     1220 kB\n"),
              1220U * 1024);
    EXPECT_FALSE(GuestFigures::parse_meminfo_page_tables("MemTotal: 1 kB\n").has_value());
    EXPECT_EQ(GuestFigures::parse_status_vm_pte("Name:\tsh\nVmPTE:\t      20 kB\nVmSwap: 0 kB\n"),
              20U * 1024);
    EXPECT_FALSE(GuestFigures::parse_status_vm_pte("Name:\tkthreadd\n").has_value());
    EXPECT_FALSE(GuestFigures::parse_status_vm_pte("VmPTE: lots kB\n").has_value());
    EXPECT_FALSE(GuestFigures::parse_status_vm_pte("VmPTEX: 4 kB\n").has_value());

    const auto f = GuestFigures::from_json(nlohmann::json::parse(
        R"({"page_tables_bytes": 4096, "vm_pte_bytes": {"1": 8192, "42": 0},
            "collect_seconds": 0.5})"));
    EXPECT_EQ(f.page_tables_bytes, 4096U);
    EXPECT_EQ(f.vm_pte_bytes.at(1), 8192U);
    EXPECT_EQ(f.vm_pte_bytes.at(42), 0U);
    EXPECT_EQ(f.collect_seconds, 0.5);
    const auto back = GuestFigures::from_json(f.to_json());
    EXPECT_EQ(back.vm_pte_bytes, f.vm_pte_bytes);
    EXPECT_EQ(back.page_tables_bytes, f.page_tables_bytes);

    EXPECT_THROW(GuestFigures::from_json(nlohmann::json::parse(R"({"page_tables_bytes": -1})")),
                 Error);
    EXPECT_THROW(GuestFigures::from_json(nlohmann::json::parse(R"({"vm_pte_bytes": {"x": 1}})")),
                 Error);
    EXPECT_THROW(GuestFigures::from_json(nlohmann::json::parse("[]")), Error);
    EXPECT_FALSE(GuestFigures::from_json(nlohmann::json::object()).page_tables_bytes);
}

TEST(GuestFigures, FromTheAgentsReplies) {
    const auto meminfo = nlohmann::json::parse(R"({"MemTotal": 506175488, "PageTables": 425984})");
    const auto procs = nlohmann::json::parse(R"({"processes": [
        {"pid": 1, "comm": "init", "kernel-thread": false, "vm-pte": 40960},
        {"pid": 2, "comm": "kthreadd", "kernel-thread": true, "vm-pte": 0},
        {"pid": 57, "comm": "mvmm-agent", "kernel-thread": false, "vm-pte": 20480}]})");
    const auto f = GuestFigures::from_agent(meminfo, procs, 0.25);
    EXPECT_EQ(f.page_tables_bytes, 425984U);
    EXPECT_EQ(f.vm_pte_bytes.size(), 2U);
    EXPECT_EQ(f.vm_pte_bytes.at(57), 20480U);
    EXPECT_EQ(f.collect_seconds, 0.25);
    EXPECT_THROW(GuestFigures::from_agent(meminfo, nlohmann::json("x")), Error);
    EXPECT_FALSE(
        GuestFigures::from_agent(nlohmann::json::object(), procs["processes"]).page_tables_bytes);
}

TEST(ImageMetadata, RoundTripsRegistersAndFigures) {
    ImageMetadata m;
    m.engine = "qemu";
    m.saved_at = utc_timestamp();
    m.vcpus.push_back({0x80050033, 0x1234, 0x2a0e000, 0x3606f0, 0xd01});
    GuestFigures f;
    f.page_tables_bytes = 12345 * 4096;
    m.guest = f;
    const auto back = ImageMetadata::parse(m.to_text(), "x.img");
    EXPECT_EQ(back.engine, "qemu");
    EXPECT_EQ(back.saved_at, m.saved_at);
    EXPECT_TRUE(back.paused);
    ASSERT_EQ(back.vcpus.size(), 1U);
    EXPECT_EQ(back.vcpus[0].cr3, 0x2a0e000U);
    EXPECT_EQ(back.vcpus[0].efer, 0xd01U);
    ASSERT_TRUE(back.guest.has_value());
    EXPECT_EQ(back.guest->page_tables_bytes, f.page_tables_bytes);

    EXPECT_TRUE(ImageMetadata::parse("", "raw").vcpus.empty());
    EXPECT_THROW(ImageMetadata::parse("{", "x"), Error);
    EXPECT_THROW(ImageMetadata::parse(R"({"format": "other"})", "x"), Error);
    EXPECT_THROW(
        ImageMetadata::parse(R"({"format": "mshare-vmm-image/1", "vcpus": [{"cr0": "0x1"}]})", "x"),
        Error);
}

}  // namespace
}  // namespace mvmm
