// The host check: a synthetic guest that starts in CPL0, drops to CPL3 with
// IRETQ, runs a short loop there and makes a SYSCALL whose CPL0 handler
// reports back through an I/O port. A Linux guest's user space needs exactly
// this round trip; some hosts (nested set-ups without VT-x/AMD-V) run CPL3
// code but cannot deliver the SYSCALL.
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include <signal.h>
#include <sys/mman.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/log.hpp>
#include <mvmm/common/mapping.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/kvm/host_check.hpp>
#include <mvmm/kvm/x86_asm.hpp>
#include <mvmm/loader/byte_io.hpp>
#include <mvmm/loader/long_mode.hpp>

#include "kvm_handles.hpp"
#include "vcpu_kick.hpp"
#include "vcpu_setup.hpp"

namespace mvmm {
namespace {

using x86asm::Assembler;
using x86asm::Reg;

constexpr std::uint64_t kMemory = 4ULL << 20;
constexpr std::uint64_t kGdt = 0x1000;
constexpr std::uint64_t kIdt = 0x2000;
constexpr std::uint64_t kTss = 0x3000;
constexpr std::uint64_t kPml4 = 0x4000;
constexpr std::uint64_t kPdpt = 0x5000;
constexpr std::uint64_t kPd = 0x6000;
constexpr std::uint64_t kKernelStackTop = 0x8000;
constexpr std::uint64_t kKernelEntry = 0x10000;
constexpr std::uint64_t kSyscallEntry = 0x10800;
constexpr std::uint64_t kExceptionStubs = 0x11000;
constexpr std::uint64_t kUserCode = 0x200000;
constexpr std::uint64_t kUserStackTop = 0x3ff000;
constexpr std::uint16_t kProbePort = 0x510;
constexpr std::uint8_t kSyscallMagic = 0x5a;
constexpr std::uint8_t kExceptionFlag = 0x80;

constexpr std::uint16_t kKernelCs = 0x08;
constexpr std::uint16_t kKernelDs = 0x10;
constexpr std::uint16_t kUserDs = 0x18 | 3;
constexpr std::uint16_t kUserCs = 0x20 | 3;
constexpr std::uint16_t kTr = 0x28;

constexpr std::uint32_t kMsrStar = 0xc0000081;
constexpr std::uint32_t kMsrLstar = 0xc0000082;
constexpr std::uint32_t kMsrSfmask = 0xc0000084;

constexpr auto kTimeout = std::chrono::seconds(3);

const char* exception_name(unsigned vector) {
    static const char* names[32] = {"#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
                                    "#DF", "CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
                                    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP"};
    return vector < 32 && names[vector] != nullptr ? names[vector] : "exception";
}

bool has_error_code(unsigned vector) {
    return vector == 8 || (vector >= 10 && vector <= 14) || vector == 17 || vector == 21;
}

bool host_cpu_has_virtualization() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (starts_with(line, "flags")) {
            return line.find(" vmx") != std::string::npos || line.find(" svm") != std::string::npos;
        }
    }
    return false;
}

class Probe {
  public:
    Probe()
        : vm_(system_),
          memory_("host-check RAM", kMemory, PROT_READ | PROT_WRITE,
                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1) {
        vm_.set_memory_region(0, 0, 0, kMemory, memory_.data());
        vcpu_.emplace(vm_, 0, system_.vcpu_mmap_size());
        vcpu_->set_cpuid(kvm::build_vcpu_cpuid(system_.supported_cpuid(), 0, 1));
    }

    std::string run() {
        build_memory();
        set_registers();
        return run_until_report();
    }

  private:
    void put(std::uint64_t gpa, std::span<const std::byte> bytes) {
        std::memcpy(memory_.data() + gpa, bytes.data(), bytes.size());
    }

    void build_memory() {
        // GDT: kernel code/data, user data/code (the order SYSRET expects), TSS.
        std::vector<std::uint64_t> gdt = {
            0,
            make_segment_descriptor(0, 0xfffff, 0x9b, 0xa),
            make_segment_descriptor(0, 0xfffff, 0x93, 0xc),
            make_segment_descriptor(0, 0xfffff, 0xf3, 0xc),
            make_segment_descriptor(0, 0xfffff, 0xfb, 0xa),
            make_segment_descriptor(static_cast<std::uint32_t>(kTss), 0x67, 0x89, 0),
            0,
        };
        put(kGdt, gdt_bytes(gdt));
        // TSS: RSP0 for exceptions raised in CPL3.
        std::vector<std::byte> tss(0x68);
        ByteWriter(tss).u64(4, kKernelStackTop);
        put(kTss, tss);
        // Page tables: 0-2 MiB supervisor only (kernel), 2-4 MiB user.
        using namespace x86;
        std::vector<std::byte> tables(3 * 4096);
        ByteWriter t(tables);
        t.u64(0, kPdpt | kPtePresent | kPteWrite | kPteUser);
        t.u64(4096, kPd | kPtePresent | kPteWrite | kPteUser);
        t.u64(8192, 0 | kPtePresent | kPteWrite | kPteHuge);
        t.u64(8192 + 8, 0x200000 | kPtePresent | kPteWrite | kPteUser | kPteHuge);
        put(kPml4, tables);

        // IDT: every exception goes to a stub that reports its vector.
        std::vector<std::byte> idt(32 * 16);
        ByteWriter w(idt);
        for (unsigned v = 0; v < 32; ++v) {
            const std::uint64_t stub = kExceptionStubs + v * 16;
            w.u16(v * 16 + 0, static_cast<std::uint16_t>(stub));
            w.u16(v * 16 + 2, kKernelCs);
            w.u8(v * 16 + 5, 0x8e);  // present, DPL 0, interrupt gate
            w.u16(v * 16 + 6, static_cast<std::uint16_t>(stub >> 16));
            w.u32(v * 16 + 8, static_cast<std::uint32_t>(stub >> 32));
            Assembler s(stub);
            s.mov(Reg::rdx, kProbePort);
            s.mov(Reg::rax, kExceptionFlag | v);
            s.out_dx_al();
            s.label("halt");
            s.hlt();
            s.jmp("halt");
            put(stub, s.finish());
        }
        put(kIdt, idt);

        // CPL0 entry: IRETQ to user mode.
        Assembler k(kKernelEntry);
        k.push_imm(kUserDs);
        k.push_imm(static_cast<std::int32_t>(kUserStackTop));
        k.push_imm(0x2);
        k.push_imm(kUserCs);
        k.push_imm(static_cast<std::int32_t>(kUserCode));
        k.iretq();
        put(kKernelEntry, k.finish());

        // The SYSCALL handler (CPL0): report al.
        Assembler h(kSyscallEntry);
        h.mov(Reg::rdx, kProbePort);
        h.out_dx_al();
        h.label("halt");
        h.hlt();
        h.jmp("halt");
        put(kSyscallEntry, h.finish());

        // User code (CPL3): a loop, then SYSCALL with the magic value in rax.
        Assembler u(kUserCode);
        u.mov(Reg::rcx, 100000);
        u.label("loop");
        u.dec(Reg::rcx);
        u.jnz("loop");
        u.mov(Reg::rax, kSyscallMagic);
        u.syscall();
        u.ud2();
        put(kUserCode, u.finish());
    }

    void set_registers() {
        auto sregs = vcpu_->sregs();
        CpuEntryState state = long_mode_entry_state(kKernelEntry, 0);
        state.cr3 = kPml4;
        state.efer |= x86::kEferSce;
        state.gdt_base = kGdt;
        state.gdt_limit = 7 * 8 - 1;
        state.idt_base = kIdt;
        state.idt_limit = 32 * 16 - 1;
        state.rsp = kKernelStackTop;
        state.cs =
            segment_from_descriptor(make_segment_descriptor(0, 0xfffff, 0x9b, 0xa), kKernelCs);
        state.ds =
            segment_from_descriptor(make_segment_descriptor(0, 0xfffff, 0x93, 0xc), kKernelDs);
        state.tr = segment_from_descriptor(
            make_segment_descriptor(static_cast<std::uint32_t>(kTss), 0x67, 0x8b, 0), kTr);
        kvm::apply_entry_state(*vcpu_, state);
        (void)sregs;
        vcpu_->set_msrs(
            {{kMsrStar, (std::uint64_t{kKernelDs} << 48) | (std::uint64_t{kKernelCs} << 32)},
             {kMsrLstar, kSyscallEntry},
             {kMsrSfmask, 0x200}});
    }

    std::string describe_exception(unsigned vector) {
        const auto regs = vcpu_->regs();
        const auto sregs = vcpu_->sregs();
        std::uint64_t frame = regs.rsp;
        std::string text = cat(exception_name(vector), " (vector ", vector, ")");
        auto word = [&](std::uint64_t at) -> std::optional<std::uint64_t> {
            if (at + 8 > kMemory) {
                return std::nullopt;
            }
            std::uint64_t v = 0;
            std::memcpy(&v, memory_.data() + at, 8);
            return v;
        };
        if (has_error_code(vector)) {
            if (auto ec = word(frame)) {
                text += cat(", error code ", hex(*ec));
            }
            frame += 8;
        }
        const auto rip = word(frame);
        const auto cs = word(frame + 8);
        if (vector == 14) {
            text += cat(", address ", hex(sregs.cr2));
        }
        if (rip && cs) {
            text += cat(", raised at rip ", hex(*rip), " in CPL", *cs & 3);
        }
        return text;
    }

    std::string run_until_report() {
        const pthread_t self = ::pthread_self();
        kvm_run* run = vcpu_->run_state();
        std::mutex mutex;
        std::condition_variable done_cv;
        bool done = false;
        bool timed_out = false;
        // The watchdog's kick must reach this thread, whatever mask it has.
        const sigset_t old_mask = kvm::unblock_kick_signal();
        std::jthread watchdog([&] {
            std::unique_lock lock(mutex);
            if (!done_cv.wait_for(lock, kTimeout, [&] { return done; })) {
                timed_out = true;
                kvm::kick(run, self);
            }
        });
        std::string outcome;
        bool finished = false;
        while (!finished) {
            const int rc = vcpu_->run();
            if (rc == -EINTR || rc == -EAGAIN) {
                const std::lock_guard lock(mutex);
                if (timed_out) {
                    outcome =
                        cat("the synthetic guest did not report within ", kTimeout.count(), " s");
                    finished = true;
                }
                continue;
            }
            if (rc < 0) {
                outcome = cat("KVM_RUN failed: ", errno_text(-rc));
                break;
            }
            switch (run->exit_reason) {
                case KVM_EXIT_IO: {
                    const auto* data =
                        reinterpret_cast<const std::uint8_t*>(run) + run->io.data_offset;
                    if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != kProbePort) {
                        outcome = cat("unexpected port access at ", hex(run->io.port));
                    } else if (data[0] == kSyscallMagic) {
                        const auto cs = vcpu_->sregs().cs;
                        outcome = cs.dpl == 0
                                      ? ""
                                      : cat("the SYSCALL handler ran in CPL", unsigned{cs.dpl});
                    } else if ((data[0] & kExceptionFlag) != 0) {
                        outcome = cat("a SYSCALL from CPL3 did not reach its CPL0 handler: ",
                                      describe_exception(data[0] & 0x1f));
                    } else {
                        outcome = cat("unexpected report ", hex(data[0]));
                    }
                    finished = true;
                    break;
                }
                case KVM_EXIT_SHUTDOWN:
                    outcome = cat("a SYSCALL from CPL3 ended in a triple fault at rip ",
                                  hex(vcpu_->regs().rip));
                    finished = true;
                    break;
                case KVM_EXIT_INTERNAL_ERROR:
                    outcome =
                        cat("KVM could not emulate an instruction at rip ", hex(vcpu_->regs().rip),
                            " (internal error, suberror ", run->internal.suberror, ")");
                    finished = true;
                    break;
                case KVM_EXIT_HLT:
                    outcome = cat("the synthetic guest halted at rip ", hex(vcpu_->regs().rip),
                                  " without a report");
                    finished = true;
                    break;
                default:
                    outcome = cat("unexpected KVM exit ", run->exit_reason, " at rip ",
                                  hex(vcpu_->regs().rip));
                    finished = true;
                    break;
            }
        }
        {
            const std::lock_guard lock(mutex);
            done = true;
        }
        done_cv.notify_all();
        watchdog.join();
        ::pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
        return outcome;
    }

    kvm::System system_;
    kvm::Vm vm_;
    Mapping memory_;
    std::optional<kvm::Vcpu> vcpu_;
};

}  // namespace

KvmHostCheck check_kvm_host() {
    KvmHostCheck result;
    try {
        Probe probe;
        result.kvm_usable = true;
        const auto failure = probe.run();
        if (failure.empty()) {
            result.user_space_works = true;
            result.reason =
                "KVM runs guest user space here: a SYSCALL from CPL3 reached its CPL0 "
                "handler";
        } else {
            result.reason = cat("KVM cannot run guest user space here: ", failure,
                                host_cpu_has_virtualization()
                                    ? ""
                                    : " (the host CPU shows no vmx/svm flag: KVM here has no "
                                      "hardware virtualization)");
        }
    } catch (const Error& e) {
        result.reason = cat("KVM is not usable here: ", e.what());
    } catch (const std::exception& e) {
        result.reason = cat("KVM is not usable here: ", e.what());
    }
    return result;
}

}  // namespace mvmm
