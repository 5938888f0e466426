#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/config/vm_config.hpp>

#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

class ConfigTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_.write("images/bzImage", "kernel");
        dir_.write("images/initramfs.cpio", "initramfs");
    }

    // Loads `text` as configs/vm.json inside the temp folder; returns the error text or "".
    std::string error_of(std::string_view text) {
        const auto file = dir_.write("configs/vm.json", text);
        try {
            (void)load_vm_config(file);
        } catch (const Error& e) {
            return e.what();
        }
        return "";
    }

    test::TempDir dir_;
};

TEST_F(ConfigTest, MinimalConfigGetsDefaults) {
    const auto file = dir_.write("configs/vm.json", R"({"kernel": "../images/bzImage"})");
    const auto c = load_vm_config(file);
    EXPECT_EQ(c.kernel, dir_.path() / "images/bzImage");
    EXPECT_FALSE(c.initramfs.has_value());
    EXPECT_EQ(c.vcpus, 1U);
    EXPECT_EQ(c.memory_mib, 512U);
    EXPECT_EQ(c.engine, EngineChoice::automatic);
    EXPECT_EQ(c.qemu.machine, "microvm");
    EXPECT_EQ(c.name, "guest");
    EXPECT_TRUE(c.control_socket.empty());
}

TEST_F(ConfigTest, FullConfigResolvesRelativePathsAgainstItsFolder) {
    const auto file = dir_.write("configs/vm.json", R"({
        "name": "n1", "kernel": "../images/bzImage", "initramfs": "../images/initramfs.cpio",
        "cmdline": "quiet", "vcpus": 8, "memory_mib": 4096, "engine": "qemu",
        "qemu": {"machine": "q35", "accel": "kvm", "extra_args": ["-d", "int"]},
        "control_socket": "run/ctl.sock", "console_log": "/tmp/console.log",
        "agent_socket": "run/agent.sock", "console_stdout": true
    })");
    const auto c = load_vm_config(file);
    EXPECT_EQ(c.initramfs, dir_.path() / "images/initramfs.cpio");
    EXPECT_EQ(c.vcpus, 8U);
    EXPECT_EQ(c.memory_mib, 4096U);
    EXPECT_EQ(c.engine, EngineChoice::qemu);
    EXPECT_EQ(c.qemu.machine, "q35");
    EXPECT_EQ(c.qemu.accel, "kvm");
    EXPECT_EQ(c.qemu.extra_args, (std::vector<std::string>{"-d", "int"}));
    EXPECT_EQ(c.control_socket, dir_.path() / "configs/run/ctl.sock");
    EXPECT_EQ(c.console_log, "/tmp/console.log");
    EXPECT_TRUE(c.console_stdout);
    EXPECT_EQ(to_json(c)["engine"], "qemu");
}

TEST_F(ConfigTest, UnknownKeyNamesItsJsonPath) {
    EXPECT_NE(error_of(R"({"kernel": "../images/bzImage", "vcpu": 2})").find("/vcpu: unknown key"),
              std::string::npos);
    const auto nested = error_of(R"({"kernel": "../images/bzImage", "qemu": {"machne": "q35"}})");
    EXPECT_NE(nested.find("/qemu/machne: unknown key"), std::string::npos) << nested;
}

TEST_F(ConfigTest, MissingFileNamesThePath) {
    const auto e = error_of(R"({"kernel": "../images/nope"})");
    EXPECT_NE(
        e.find("/kernel: file '" + (dir_.path() / "images/nope").string() + "' does not exist"),
        std::string::npos)
        << e;
    EXPECT_NE(error_of(R"({"kernel": "../images"})").find("is a directory"), std::string::npos);
    EXPECT_NE(error_of(R"({"cmdline": ""})").find("/kernel: is required"), std::string::npos);
}

TEST_F(ConfigTest, OutOfRangeNamesFieldAndRange) {
    const auto e = error_of(R"({"kernel": "../images/bzImage", "vcpus": 0})");
    EXPECT_NE(e.find("/vcpus: 0 is out of range (allowed: 1 to 64)"), std::string::npos) << e;
    const auto m = error_of(R"({"kernel": "../images/bzImage", "memory_mib": -5})");
    EXPECT_NE(m.find("/memory_mib: -5 is out of range (allowed: 64 to 1048576)"), std::string::npos)
        << m;
    const auto f = error_of(R"({"kernel": "../images/bzImage", "vcpus": 1.5})");
    EXPECT_NE(f.find("/vcpus: must be an integer from 1 to 64"), std::string::npos) << f;
}

TEST_F(ConfigTest, WrongTypesAndEnumsAreNamed) {
    EXPECT_NE(error_of(R"({"kernel": 5})").find("/kernel: must be a string, not a number"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"kernel": "../images/bzImage", "engine": "xen"})")
                  .find("/engine: 'xen' is not one of auto, kvm, qemu"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"kernel": "../images/bzImage", "name": "a b"})").find("/name:"),
              std::string::npos);
    EXPECT_NE(error_of(R"([1, 2])").find("must be an object, not an array"), std::string::npos);
    EXPECT_NE(error_of(R"({"kernel": "../images/bzImage", "qemu": {"extra_args": [1]}})")
                  .find("/qemu/extra_args/0: must be a string"),
              std::string::npos);
}

TEST_F(ConfigTest, InvalidJsonGivesLineAndColumn) {
    const auto e = error_of("{\n  \"kernel\": \"x\",\n  \"vcpus\": ,\n}");
    EXPECT_NE(e.find("invalid JSON at line 3, column 12"), std::string::npos) << e;
}

TEST_F(ConfigTest, UnreadableFileIsNamed) {
    try {
        (void)load_vm_config(dir_.path() / "absent.json");
        FAIL();
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("absent.json': cannot be read"), std::string::npos)
            << e.what();
    }
}

}  // namespace
}  // namespace mvmm
