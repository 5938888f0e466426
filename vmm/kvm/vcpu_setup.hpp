// Per-vCPU CPU set-up: CPUID, MSRs, FPU, local APIC, and the registers of a
// loader's CpuEntryState.
#pragma once

#include <vector>

#include <linux/kvm.h>

#include <mvmm/loader/long_mode.hpp>

#include "kvm_handles.hpp"

namespace mvmm::kvm {

// KVM's supported CPUID, adjusted for vCPU `index` of `count`: the hypervisor
// bit, the initial APIC id (leaf 1), the x2APIC id (leaves 0xb, 0x1f) and the
// AMD extended APIC id and core id (leaf 0x8000001e).
std::vector<kvm_cpuid_entry2> build_vcpu_cpuid(std::vector<kvm_cpuid_entry2> entries,
                                               unsigned index, unsigned count);

// Registers and special registers from `state`; segment registers other than
// CS and TR get `state.ds`.
void apply_entry_state(const Vcpu& vcpu, const CpuEntryState& state);

// MSRs a fresh x86 CPU has after firmware: SYSENTER/SYSCALL MSRs zero, TSC 0,
// fast strings on, MTRRs enabled with write-back default.
void set_boot_msrs(const Vcpu& vcpu);
// x87 control word and MXCSR at their reset values.
void set_boot_fpu(const Vcpu& vcpu);
// LINT0 as ExtINT and LINT1 as NMI (virtual wire mode), as the MP table says.
void set_boot_lapic(const Vcpu& vcpu);

}  // namespace mvmm::kvm
