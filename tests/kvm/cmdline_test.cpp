#include <gtest/gtest.h>

#include <mvmm/kvm/kernel_cmdline.hpp>

namespace mvmm {
namespace {

TEST(KvmCmdline, BaseWorkaroundsThenConfig) {
    EXPECT_EQ(kvm_kernel_cmdline(false, ""), "console=ttyS0 reboot=k panic=-1");
    EXPECT_EQ(kvm_kernel_cmdline(false, "quiet"), "console=ttyS0 reboot=k panic=-1 quiet");
    const auto emulated = kvm_kernel_cmdline(true, "mvmm.noagent");
    EXPECT_EQ(emulated.rfind("console=ttyS0 reboot=k panic=-1 noxsave ", 0), 0U);
    EXPECT_NE(emulated.find("clearcpuid=smap,popcnt"), std::string::npos);
    EXPECT_NE(emulated.find(" no-kvmclock "), std::string::npos);
    EXPECT_EQ(kvm_kernel_cmdline(false, "").find("no-kvmclock"), std::string::npos);
    // The config comes last, so it can override the defaults.
    EXPECT_EQ(emulated.substr(emulated.size() - 13), " mvmm.noagent");
}

}  // namespace
}  // namespace mvmm
