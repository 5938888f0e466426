// The CPUID a vCPU gets: KVM's supported entries, with the hypervisor bit
// and the vCPU's own APIC id in every leaf that reports one.
#include <gtest/gtest.h>

#include "vcpu_setup.hpp"

namespace mvmm::kvm {
namespace {

kvm_cpuid_entry2 entry(std::uint32_t function, std::uint32_t eax, std::uint32_t ebx,
                       std::uint32_t ecx, std::uint32_t edx) {
    kvm_cpuid_entry2 e{};
    e.function = function;
    e.eax = eax;
    e.ebx = ebx;
    e.ecx = ecx;
    e.edx = edx;
    return e;
}

TEST(VcpuCpuid, ApicIdsAndHypervisorBitPinned) {
    const std::vector<kvm_cpuid_entry2> supported = {
        entry(0, 0x10, 0x68747541, 0x444d4163, 0x69746e65),
        entry(1, 0x00a10f11, 0x00000800, 0x7ed8320b, 0x178bfbff),
        entry(0xb, 0x1, 0x1, 0x100, 0x0),
        entry(0x8000001e, 0x0, 0x00000100, 0x00000000, 0x0),
    };
    const auto cpu2 = build_vcpu_cpuid(supported, 2, 4);
    ASSERT_EQ(cpu2.size(), supported.size());
    EXPECT_EQ(cpu2[0].ebx, 0x68747541U);  // other leaves as KVM gave them
    // Leaf 1: APIC id 2 and 4 logical processors in EBX, HTT in EDX, the
    // hypervisor bit in ECX.
    EXPECT_EQ(cpu2[1].ebx, 0x02040800U);
    EXPECT_EQ(cpu2[1].ecx, 0xfed8320bU);
    EXPECT_EQ(cpu2[1].edx, 0x178bfbffU | (1U << 28));
    EXPECT_EQ(cpu2[2].edx, 2U);           // x2APIC id
    EXPECT_EQ(cpu2[3].eax, 2U);           // extended APIC id
    EXPECT_EQ(cpu2[3].ebx, 0x00000102U);  // core id, threads per core kept

    // One vCPU: no HTT.
    const auto single = build_vcpu_cpuid(supported, 0, 1);
    EXPECT_EQ(single[1].ebx, 0x00010800U);
    EXPECT_EQ(single[1].edx, 0x178bfbffU);
    EXPECT_EQ(single[3].eax, 0U);
}

}  // namespace
}  // namespace mvmm::kvm
