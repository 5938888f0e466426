#include "vcpu_setup.hpp"

#include <cstring>

namespace mvmm::kvm {
namespace {

constexpr std::uint32_t kCpuidHypervisorBit = 1U << 31;  // leaf 1, ECX

kvm_segment to_kvm(const SegmentState& s) {
    kvm_segment k{};
    k.base = s.base;
    k.limit = s.limit;
    k.selector = s.selector;
    k.type = s.type;
    k.present = s.present ? 1 : 0;
    k.dpl = s.dpl;
    k.db = s.db ? 1 : 0;
    k.s = s.s ? 1 : 0;
    k.l = s.l ? 1 : 0;
    k.g = s.g ? 1 : 0;
    k.avl = 0;
    k.unusable = s.present ? 0 : 1;
    return k;
}

// LAPIC register offsets and delivery modes.
constexpr std::size_t kLvtLint0 = 0x350;
constexpr std::size_t kLvtLint1 = 0x360;
constexpr std::uint32_t kDeliveryExtInt = 0x7 << 8;
constexpr std::uint32_t kDeliveryNmi = 0x4 << 8;

void set_lvt(kvm_lapic_state& lapic, std::size_t reg, std::uint32_t mode) {
    std::uint32_t v = 0;
    std::memcpy(&v, lapic.regs + reg, 4);
    v = (v & ~0x700U) | mode;
    std::memcpy(lapic.regs + reg, &v, 4);
}

}  // namespace

std::vector<kvm_cpuid_entry2> build_vcpu_cpuid(std::vector<kvm_cpuid_entry2> entries,
                                               unsigned index, unsigned count) {
    for (auto& e : entries) {
        switch (e.function) {
            case 1:
                e.ecx |= kCpuidHypervisorBit;
                // EBX[31:24] initial APIC id, [23:16] logical processors per package.
                e.ebx = (e.ebx & 0x0000ffffU) | (index << 24) | ((count & 0xff) << 16);
                if (count > 1) {
                    e.edx |= 1U << 28;  // HTT: the count above is valid
                }
                break;
            case 0xb:
            case 0x1f:
                e.edx = index;  // x2APIC id
                break;
            case 0x8000001e:
                // AMD: EAX the extended APIC id, EBX[7:0] the core id. Linux
                // takes the initial APIC id from here where the CPU has
                // TOPOEXT, and reports an APIC id mismatch if it is wrong.
                e.eax = index;
                e.ebx = (e.ebx & ~0xffU) | (index & 0xffU);
                break;
            default:
                break;
        }
    }
    return entries;
}

void apply_entry_state(const Vcpu& vcpu, const CpuEntryState& state) {
    auto sregs = vcpu.sregs();
    sregs.cs = to_kvm(state.cs);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = to_kvm(state.ds);
    sregs.tr = to_kvm(state.tr);
    sregs.gdt.base = state.gdt_base;
    sregs.gdt.limit = state.gdt_limit;
    sregs.idt.base = state.idt_base;
    sregs.idt.limit = state.idt_limit;
    sregs.cr0 = state.cr0;
    sregs.cr3 = state.cr3;
    sregs.cr4 = state.cr4;
    sregs.efer = state.efer;
    vcpu.set_sregs(sregs);

    kvm_regs regs{};
    regs.rip = state.rip;
    regs.rsi = state.rsi;
    regs.rsp = state.rsp;
    regs.rflags = state.rflags;
    vcpu.set_regs(regs);
}

void set_boot_msrs(const Vcpu& vcpu) {
    constexpr std::uint32_t kSysenterCs = 0x174;
    constexpr std::uint32_t kSysenterEsp = 0x175;
    constexpr std::uint32_t kSysenterEip = 0x176;
    constexpr std::uint32_t kStar = 0xc0000081;
    constexpr std::uint32_t kLstar = 0xc0000082;
    constexpr std::uint32_t kCstar = 0xc0000083;
    constexpr std::uint32_t kSfmask = 0xc0000084;
    constexpr std::uint32_t kKernelGsBase = 0xc0000102;
    constexpr std::uint32_t kTsc = 0x10;
    constexpr std::uint32_t kMiscEnable = 0x1a0;
    constexpr std::uint32_t kMtrrDefType = 0x2ff;
    constexpr std::uint64_t kMiscFastStrings = 1;
    constexpr std::uint64_t kMtrrEnableWriteBack = (1U << 11) | 6;
    vcpu.set_msrs({{kSysenterCs, 0},
                   {kSysenterEsp, 0},
                   {kSysenterEip, 0},
                   {kStar, 0},
                   {kLstar, 0},
                   {kCstar, 0},
                   {kSfmask, 0},
                   {kKernelGsBase, 0},
                   {kTsc, 0},
                   {kMiscEnable, kMiscFastStrings},
                   {kMtrrDefType, kMtrrEnableWriteBack}});
}

void set_boot_fpu(const Vcpu& vcpu) {
    kvm_fpu fpu{};
    fpu.fcw = 0x37f;
    fpu.mxcsr = 0x1f80;
    vcpu.set_fpu(fpu);
}

void set_boot_lapic(const Vcpu& vcpu) {
    auto lapic = vcpu.lapic();
    set_lvt(lapic, kLvtLint0, kDeliveryExtInt);
    set_lvt(lapic, kLvtLint1, kDeliveryNmi);
    vcpu.set_lapic(lapic);
}

}  // namespace mvmm::kvm
