#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/loader/boot_layout.hpp>
#include <mvmm/loader/byte_io.hpp>
#include <mvmm/loader/mp_table.hpp>

namespace mvmm {
namespace {

using namespace mp_table;

enum EntryType : std::uint8_t {
    kProcessor = 0,
    kBus = 1,
    kIoApic = 2,
    kIoInterrupt = 3,
    kLocalInterrupt = 4,
};
enum InterruptType : std::uint8_t { kInt = 0, kNmi = 1, kExtInt = 3 };

constexpr std::uint8_t kCpuEnabled = 1;
constexpr std::uint8_t kCpuBootstrap = 2;
constexpr std::uint32_t kCpuSignature = 0x600;  // family 6
constexpr std::uint32_t kCpuFeatures = 0x201;   // FPU, APIC
constexpr std::uint8_t kSpecRevision = 4;       // MP spec 1.4
constexpr std::uint8_t kIsaBus = 0;
constexpr std::uint8_t kAllLocalApics = 0xff;

std::uint8_t checksum(std::span<const std::byte> bytes) {
    unsigned sum = 0;
    for (auto b : bytes) {
        sum += std::to_integer<unsigned>(b);
    }
    return static_cast<std::uint8_t>(0x100 - (sum & 0xff));
}

}  // namespace

std::vector<std::byte> build_mp_table(std::uint64_t gpa, unsigned cpus) {
    if (cpus < 1 || cpus > 254) {
        throw Error(cat("MP table: ", cpus, " CPUs, the table holds 1 to 254"));
    }
    const std::uint8_t ioapic = mp_ioapic_id(cpus);
    const std::size_t entries = cpus + 1 + 1 + kIsaIrqs + 2;
    const std::size_t table_size =
        kHeaderSize + cpus * kProcessorEntrySize + (entries - cpus) * kEntrySize;
    const std::uint64_t table_gpa = gpa + kFloatingPointerSize;
    if (table_gpa + table_size > 0xffffffffULL) {
        throw Error(cat("MP table: at ", hex(gpa), " it would not be below 4 GiB"));
    }
    std::vector<std::byte> out(kFloatingPointerSize + table_size);
    ByteWriter w(out);

    // The floating pointer structure.
    w.text(0, "_MP_");
    w.u32(4, static_cast<std::uint32_t>(table_gpa));
    w.u8(8, 1);  // length in 16-byte units
    w.u8(9, kSpecRevision);
    // 10: checksum; 11: feature byte 1 = 0 (a configuration table is present);
    // 12: feature byte 2 = 0 (virtual wire mode, no IMCR).

    // The configuration table header.
    const std::size_t t = kFloatingPointerSize;
    w.text(t + 0, "PCMP");
    w.u16(t + 4, static_cast<std::uint16_t>(table_size));
    w.u8(t + 6, kSpecRevision);
    // t + 7: checksum
    w.text(t + 8, "MSHARE  ");       // OEM id, 8 bytes
    w.text(t + 16, "MSHARE-VMM  ");  // product id, 12 bytes
    w.u16(t + 34, static_cast<std::uint16_t>(entries));
    w.u32(t + 36, static_cast<std::uint32_t>(boot_layout::kLocalApicBase));

    std::size_t at = t + kHeaderSize;
    for (unsigned cpu = 0; cpu < cpus; ++cpu) {
        w.u8(at + 0, kProcessor);
        w.u8(at + 1, static_cast<std::uint8_t>(cpu));
        w.u8(at + 2, kLocalApicVersion);
        w.u8(at + 3, cpu == 0 ? kCpuEnabled | kCpuBootstrap : kCpuEnabled);
        w.u32(at + 4, kCpuSignature);
        w.u32(at + 8, kCpuFeatures);
        at += kProcessorEntrySize;
    }
    w.u8(at + 0, kBus);
    w.u8(at + 1, kIsaBus);
    w.text(at + 2, "ISA   ");
    at += kEntrySize;

    w.u8(at + 0, kIoApic);
    w.u8(at + 1, ioapic);
    w.u8(at + 2, kIoApicVersion);
    w.u8(at + 3, 1);  // enabled
    w.u32(at + 4, static_cast<std::uint32_t>(boot_layout::kIoApicBase));
    at += kEntrySize;

    for (unsigned irq = 0; irq < kIsaIrqs; ++irq) {
        w.u8(at + 0, kIoInterrupt);
        w.u8(at + 1, kInt);
        w.u16(at + 2, 0);  // polarity and trigger conform to the bus
        w.u8(at + 4, kIsaBus);
        w.u8(at + 5, static_cast<std::uint8_t>(irq));
        w.u8(at + 6, ioapic);
        w.u8(at + 7, static_cast<std::uint8_t>(irq));
        at += kEntrySize;
    }
    const std::uint8_t lint[2][2] = {{kExtInt, 0}, {kNmi, 1}};
    for (const auto& l : lint) {
        w.u8(at + 0, kLocalInterrupt);
        w.u8(at + 1, l[0]);
        w.u16(at + 2, 0);
        w.u8(at + 4, kIsaBus);
        w.u8(at + 5, 0);
        w.u8(at + 6, kAllLocalApics);
        w.u8(at + 7, l[1]);
        at += kEntrySize;
    }

    w.u8(t + 7, checksum(std::span(out).subspan(t, table_size)));
    w.u8(10, checksum(std::span(out).first(kFloatingPointerSize)));
    return out;
}

}  // namespace mvmm
