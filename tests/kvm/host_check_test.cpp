// The host check runs a real synthetic guest.
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mvmm/kvm/host_check.hpp>

namespace mvmm {
namespace {

bool cpu_has_virtualization() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("flags", 0) == 0) {
            return line.find(" vmx") != std::string::npos || line.find(" svm") != std::string::npos;
        }
    }
    return false;
}

TEST(KvmHostCheck, ReportsWhetherGuestUserSpaceRuns) {
    const auto check = check_kvm_host();
    if (!check.kvm_usable) {
        GTEST_SKIP() << check.reason;
    }
    std::cout << "host check: " << check.reason << "\n";
    if (cpu_has_virtualization()) {
        EXPECT_TRUE(check.user_space_works) << check.reason;
        EXPECT_THAT(check.reason, ::testing::HasSubstr("reached its CPL0 handler"));
    } else {
        // KVM without VT-x/AMD-V (a nested, emulating set-up): the SYSCALL fails.
        EXPECT_FALSE(check.user_space_works);
        EXPECT_THAT(check.reason, ::testing::HasSubstr("KVM cannot run guest user space here"));
    }
    // Deterministic: a second run says the same.
    EXPECT_EQ(check_kvm_host().reason, check.reason);
}

}  // namespace
}  // namespace mvmm
