// Parsers for the text QEMU's human monitor prints: the flattened memory
// tree (where guest RAM lives in the RAM backend) and a vCPU's registers.
#pragma once

#include <string_view>

#include <mvmm/engine/engine.hpp>
#include <mvmm/memory/ram_layout.hpp>

namespace mvmm {

// From the output of `info mtree -f`: the guest-physical ranges of the system
// address space (the flat view of AS "memory") that are RAM of the memory
// backend `backend_id`, with their offsets in that backend. Adjacent pieces
// are merged. Throws Error if the view or the backend's RAM is not there.
RamLayout parse_ram_layout(std::string_view mtree, std::string_view backend_id);

// From the output of `info registers -a`: CR0, CR2, CR3, CR4 and EFER of the
// vCPU with index `vcpu` ("CPU#<n>"). Throws Error if that vCPU or one of the
// registers is missing.
SpecialRegisters parse_special_registers(std::string_view info_registers, unsigned vcpu);

}  // namespace mvmm
