// The Intel MultiProcessor Specification 1.4 table that tells the guest
// kernel about its CPUs, the ISA bus, the I/O APIC and how ISA IRQs reach it,
// so that two or more vCPUs boot without ACPI.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mvmm {

namespace mp_table {
inline constexpr std::uint8_t kLocalApicVersion = 0x14;
inline constexpr std::uint8_t kIoApicVersion = 0x11;
inline constexpr unsigned kIsaIrqs = 16;
inline constexpr std::size_t kFloatingPointerSize = 16;
inline constexpr std::size_t kHeaderSize = 44;
inline constexpr std::size_t kProcessorEntrySize = 20;
inline constexpr std::size_t kEntrySize = 8;  // every other entry type
}  // namespace mp_table

// The I/O APIC's id in the table: the first id after the vCPUs' local APIC ids.
inline std::uint8_t mp_ioapic_id(unsigned cpus) {
    return static_cast<std::uint8_t>(cpus);
}

// The floating pointer structure at `gpa`, followed directly by the
// configuration table: one processor entry per vCPU (local APIC id = index,
// vCPU 0 the bootstrap processor), one ISA bus, the I/O APIC at 0xfec00000,
// ISA IRQ n to I/O APIC pin n for n < 16 (KVM's default routing), ExtINT on
// LINT0 and NMI on LINT1. Throws Error unless 1 <= cpus <= 254.
std::vector<std::byte> build_mp_table(std::uint64_t gpa, unsigned cpus);

}  // namespace mvmm
