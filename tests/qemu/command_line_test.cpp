#include <algorithm>

#include <gtest/gtest.h>

#include <mvmm/qemu/command_line.hpp>

namespace mvmm {
namespace {

// The value that follows `option` in args, or "" if the option is absent.
std::vector<std::string> values_of(const std::vector<std::string>& args, std::string_view option) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
        if (args[i] == option) {
            out.push_back(args[i + 1]);
        }
    }
    return out;
}

VmConfig sample_config() {
    VmConfig c;
    c.name = "t";
    c.kernel = "/k/bzImage";
    c.initramfs = "/k/initrd.cpio";
    c.cmdline = "mvmm.noagent quiet";
    c.vcpus = 3;
    c.memory_mib = 768;
    return c;
}

QemuLaunch sample_launch() {
    return {.binary = "/usr/bin/qemu-system-x86_64",
            .ram_file = "/run/x/ram",
            .qmp_fd = 7,
            .console_fd = 8,
            .marker_fd = 9,
            .agent_socket = "/run/x/agent.sock"};
}

TEST(QemuCommandLine, CarriesTheConfig) {
    const auto args = qemu_command_line(sample_config(), sample_launch());
    EXPECT_EQ(args.front(), "/usr/bin/qemu-system-x86_64");
    EXPECT_EQ(values_of(args, "-machine"),
              std::vector<std::string>{"microvm,memory-backend=mvmm-ram"});
    EXPECT_EQ(values_of(args, "-accel"), std::vector<std::string>{"tcg"});
    EXPECT_EQ(values_of(args, "-smp"), std::vector<std::string>{"3"});
    EXPECT_EQ(values_of(args, "-m"), std::vector<std::string>{"768M"});
    EXPECT_EQ(values_of(args, "-kernel"), std::vector<std::string>{"/k/bzImage"});
    EXPECT_EQ(values_of(args, "-initrd"), std::vector<std::string>{"/k/initrd.cpio"});
    EXPECT_EQ(values_of(args, "-append"),
              std::vector<std::string>{qemu_default_cmdline() + " mvmm.noagent quiet"});
    EXPECT_EQ(values_of(args, "-object"),
              std::vector<std::string>{
                  "memory-backend-file,id=mvmm-ram,size=768M,mem-path=/run/x/ram,share=on"});
    const auto chardevs = values_of(args, "-chardev");
    EXPECT_NE(std::find(chardevs.begin(), chardevs.end(), "socket,id=mvmm-qmp,fd=7"),
              chardevs.end());
    EXPECT_NE(std::find(chardevs.begin(), chardevs.end(), "socket,id=mvmm-console,fd=8"),
              chardevs.end());
    EXPECT_NE(std::find(chardevs.begin(), chardevs.end(), "socket,id=mvmm-marker,fd=9"),
              chardevs.end());
    EXPECT_NE(std::find(chardevs.begin(), chardevs.end(),
                        "socket,id=mvmm-agent,path=/run/x/agent.sock,server=on,wait=off"),
              chardevs.end());
    const auto devices = values_of(args, "-device");
    EXPECT_NE(
        std::find(devices.begin(), devices.end(), "isa-debugcon,iobase=0xe9,chardev=mvmm-marker"),
        devices.end());
    EXPECT_NE(std::find(args.begin(), args.end(), "-S"), args.end());
    EXPECT_NE(std::find(args.begin(), args.end(), "-no-reboot"), args.end());
}

TEST(QemuCommandLine, MachineAccelExtraArgsAndNoInitramfs) {
    auto config = sample_config();
    config.initramfs.reset();
    config.cmdline.clear();
    config.qemu.machine = "q35";
    config.qemu.accel = "kvm";
    config.qemu.extra_args = {"-cpu", "max"};
    const auto args = qemu_command_line(config, sample_launch());
    EXPECT_TRUE(values_of(args, "-initrd").empty());
    EXPECT_EQ(values_of(args, "-machine"), std::vector<std::string>{"q35,memory-backend=mvmm-ram"});
    EXPECT_EQ(values_of(args, "-accel"), std::vector<std::string>{"kvm"});
    EXPECT_EQ(values_of(args, "-append"), std::vector<std::string>{qemu_default_cmdline()});
    ASSERT_GE(args.size(), 2U);
    EXPECT_EQ(args[args.size() - 2], "-cpu");
    EXPECT_EQ(args.back(), "max");
}

TEST(QemuCommandLine, CommasInPathsAreEscaped) {
    auto launch = sample_launch();
    launch.ram_file = "/run/a,b/ram";
    launch.agent_socket = "/run/a,b/agent.sock";
    const auto args = qemu_command_line(sample_config(), launch);
    EXPECT_EQ(values_of(args, "-object"),
              std::vector<std::string>{
                  "memory-backend-file,id=mvmm-ram,size=768M,mem-path=/run/a,,b/ram,share=on"});
    EXPECT_EQ(qemu_option_value("a,b,,c"), "a,,b,,,,c");
    EXPECT_EQ(qemu_option_value(""), "");
}

}  // namespace
}  // namespace mvmm
