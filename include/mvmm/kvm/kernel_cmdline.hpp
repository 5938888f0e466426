// The kernel command line the KVM engine starts from; the config's `cmdline`
// is appended to it (so the config can override any option).
#pragma once

#include <string>
#include <string_view>

namespace mvmm {

// Always: the console on COM1, reboot through the keyboard controller, and
// reboot at once on a panic (so a panic ends the VM).
inline constexpr std::string_view kKvmBaseCmdline = "console=ttyS0 reboot=k panic=-1";

// Where KVM emulates CPL0 code instead of running it (no VT-x/AMD-V, see
// docs/kvm-engine.md): hide the instructions the emulator cannot do (XRSTOR,
// CLAC/STAC, POPCNT), skip the delay-loop calibration and the clock checks
// that crawl under emulation, keep off kvm-clock (once the kernel switches
// its clocksource to it, the boot stops making progress there), register no
// legacy BSD ptys (512 devices, over a minute under emulation; nothing uses
// them), and silence RCU stall warnings.
inline constexpr std::string_view kKvmEmulationWorkarounds =
    "noxsave clearcpuid=smap,popcnt lpj=4000000 tsc=reliable no_timer_check no-kvmclock "
    "pty.legacy_count=0 rcupdate.rcu_cpu_stall_suppress=1";

// The full command line: base, workarounds if `emulated_cpl0`, then `extra`.
std::string kvm_kernel_cmdline(bool emulated_cpl0, std::string_view extra);

}  // namespace mvmm
