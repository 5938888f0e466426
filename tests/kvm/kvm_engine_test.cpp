// The KVM engine with small synthetic guests: long-mode entry, port I/O and
// serial output, pause and resume, shutdown, triple fault, panics, INT3,
// the agent channel, binary statistics and the dirty log.
#include <cstring>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/guest_abi.h>
#include <mvmm/loader/boot_layout.hpp>
#include <mvmm/loader/byte_io.hpp>
#include <mvmm/loader/long_mode.hpp>

#include "kvm/synthetic_vm.hpp"
#include "loader/synthetic_images.hpp"

namespace mvmm {
namespace {

using namespace std::chrono_literals;
using test::GuestProgram;
using test::SyntheticVm;
using ::testing::HasSubstr;
using x86asm::Reg;

TEST(KvmEngine, LongModeEntryWithBootParamsInRsi) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    auto& a = p.a();
    a.mov(Reg::rdx, 0x3f8);
    // mov al, [rsi + 0x202]: "HdrS" of the setup header in boot_params
    a.raw({0x8a, 0x86, 0x02, 0x02, 0x00, 0x00});
    a.out_dx_al();
    a.raw({0x8a, 0x86, 0x03, 0x02, 0x00, 0x00});
    a.out_dx_al();
    // A 64-bit immediate only long mode has: 'K' in its top byte.
    a.mov(Reg::rax, 0x4b00000000000000ULL);
    a.raw({0x48, 0xc1, 0xe8, 0x38});  // shr rax, 56
    a.out_dx_al();
    p.serial("\n");
    p.reset();
    SyntheticVm vm(p);
    vm.engine().start();
    EXPECT_EQ(vm.engine().state() == RunState::running || vm.engine().state() == RunState::shutdown,
              true);
    ASSERT_EQ(vm.wait_end(), RunState::shutdown);
    EXPECT_EQ(vm.console_text(), "HdK\n");
    const auto sregs = vm.engine().special_registers(0);
    EXPECT_NE(sregs.efer & x86::kEferLma, 0U);
    EXPECT_NE(sregs.cr0 & x86::kCr0Pg, 0U);
    EXPECT_NE(sregs.cr4 & x86::kCr4Pae, 0U);
    EXPECT_EQ(sregs.cr3, boot_layout::kPageTables);
    EXPECT_THROW((void)vm.engine().special_registers(1), Error);
}

// A bzImage whose protected-mode part is our own code: loaded at
// pref_address, entered at +0x200 in long mode, boot_params in rsi.
TEST(KvmEngine, BzImageEnteredAtItsSixtyFourBitEntry) {
    MVMM_SKIP_WITHOUT_KVM();
    test::BzImageSpec spec;
    spec.payload_size = 0x1000;
    auto image = test::make_bzimage(spec);
    GuestProgram p(spec.pref_address + 0x200);
    auto& a = p.a();
    a.mov(Reg::rdx, 0x3f8);
    a.raw({0x8a, 0x86, 0x10, 0x02, 0x00, 0x00});  // mov al, [rsi + 0x210]: type_of_loader
    a.raw({0x2c, 0xbe});                          // sub al, 0xbe: 0xff -> 'A'
    a.out_dx_al();
    p.serial("bz\n");
    p.reset();
    const auto code = a.finish();
    const std::size_t payload = (spec.setup_sects + 1U) * 512U;
    std::copy(code.begin(), code.end(), image.begin() + static_cast<long>(payload + 0x200));
    SyntheticVm vm(image);
    vm.engine().start();
    ASSERT_EQ(vm.wait_end(), RunState::shutdown);
    EXPECT_EQ(vm.console_text(), "Abz\n");
}

TEST(KvmEngine, SerialOutputPortInputAndBootMarker) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    p.serial("Hello from the guest\n");
    auto& a = p.a();
    // Read the UART's LSR (THRE | TEMT = 0x60, '`') and send it back out.
    a.mov(Reg::rdx, 0x3fd);
    a.in_al_dx();
    a.mov(Reg::rdx, 0x3f8);
    a.out_dx_al();
    // A port nobody claims reads as 0xff; send 0xff - 0xbe = 'A'.
    a.mov(Reg::rdx, 0x3ff0);
    a.in_al_dx();
    a.raw({0x2c, 0xbe});  // sub al, 0xbe
    a.mov(Reg::rdx, 0x3f8);
    a.out_dx_al();
    p.serial("\n");
    p.port_out(MVMM_MARKER_PORT, MVMM_MARKER_BOOT_COMPLETE);
    p.reset();
    SyntheticVm vm(p);
    vm.engine().start();
    ASSERT_EQ(vm.wait_end(), RunState::shutdown);
    EXPECT_EQ(vm.console_text(), "Hello from the guest\n`A\n");
    const auto boot = vm.wait_event(EngineEvent::Kind::boot_complete, 1s);
    ASSERT_TRUE(boot.has_value());
    EXPECT_GT(boot->data.at("seconds").get<double>(), 0.0);
    EXPECT_GT(boot->data.at("seconds").get<double>(),
              boot->data.at("since_engine_start").get<double>());
    const auto end = vm.wait_event(EngineEvent::Kind::shutdown, 1s);
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->reason, "guest-reset");
}

// A guest that counts forever in guest RAM at kGuestData.
GuestProgram counting_guest() {
    GuestProgram p;
    auto& a = p.a();
    p.serial("counting\n");
    a.mov(Reg::rbx, test::kGuestData);
    a.mov(Reg::rax, 0);
    a.label("loop");
    a.inc(Reg::rax);
    a.store64(Reg::rbx, Reg::rax);
    a.jmp("loop");
    return p;
}

std::uint64_t counter(SyntheticVm& vm) {
    return vm.engine().memory().read_as<std::uint64_t>(test::kGuestData).value_or(0);
}

bool wait_counter_above(SyntheticVm& vm, std::uint64_t value) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (counter(vm) <= value && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    return counter(vm) > value;
}

TEST(KvmEngine, PauseAndResumeTwoVcpus) {
    MVMM_SKIP_WITHOUT_KVM();
    SyntheticVm vm(counting_guest(), 2);
    vm.engine().start();
    ASSERT_TRUE(wait_counter_above(vm, 1000));

    vm.engine().pause();
    EXPECT_EQ(vm.engine().state(), RunState::paused);
    const auto frozen = counter(vm);
    std::this_thread::sleep_for(100ms);
    EXPECT_EQ(counter(vm), frozen) << "a paused guest kept running";
    // Registers can be read while paused; vCPU 1 is an AP still waiting for its SIPI.
    EXPECT_NE(vm.engine().special_registers(0).efer & x86::kEferLma, 0U);
    EXPECT_EQ(vm.engine().special_registers(1).cr0 & x86::kCr0Pg, 0U);
    vm.engine().pause();  // no-op
    ASSERT_TRUE(vm.wait_event(EngineEvent::Kind::stop, 1s).has_value());

    vm.engine().resume();
    EXPECT_EQ(vm.engine().state(), RunState::running);
    EXPECT_TRUE(wait_counter_above(vm, frozen));
    ASSERT_TRUE(vm.wait_event(EngineEvent::Kind::resume, 1s).has_value());

    // Registers of a running vCPU, too.
    EXPECT_EQ(vm.engine().special_registers(0).cr3, boot_layout::kPageTables);

    vm.engine().stop();
    EXPECT_EQ(vm.engine().wait(), RunState::shutdown);
    const auto end = vm.wait_event(EngineEvent::Kind::shutdown, 1s);
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->reason, "host-stop");
    vm.engine().stop();    // idempotent
    vm.engine().resume();  // no-op once ended
    EXPECT_EQ(vm.engine().state(), RunState::shutdown);
}

// SMP the way Linux starts its APs: vCPU 0 copies a real-mode trampoline
// below 1 MiB and sends INIT and then a start-up IPI through its local APIC
// (KVM's in-kernel irqchip). vCPU 1 starts there in real mode, prints the
// APIC id its CPUID leaf 1 reports, and sets a flag; vCPU 0 waits for the
// flag and ends the VM.
TEST(KvmEngine, SecondVcpuStartsOnAStartUpIpiWithItsOwnApicId) {
    MVMM_SKIP_WITHOUT_KVM();
    constexpr std::uint64_t kTrampoline = 0x10000;  // start-up vector 0x10
    constexpr std::uint64_t kFlag = kTrampoline + 0x100;
    // 16-bit code, CS base = kTrampoline.
    const std::vector<std::uint8_t> trampoline = {
        0x66, 0xb8, 0x01, 0x00, 0x00, 0x00,  // mov eax, 1
        0x0f, 0xa2,                          // cpuid
        0x66, 0xc1, 0xeb, 0x18,              // shr ebx, 24: the initial APIC id
        0x88, 0xd8,                          // mov al, bl
        0x04, 0x30,                          // add al, '0'
        0xba, 0xf8, 0x03,                    // mov dx, 0x3f8
        0xee,                                // out dx, al
        0x2e, 0xc6, 0x06, 0x00, 0x01, 0x01,  // mov byte cs:[0x100], 1
        0xfa, 0xf4, 0xeb, 0xfd,              // cli; hlt; jmp back to the hlt
    };
    GuestProgram p;
    auto& a = p.a();
    for (std::size_t i = 0; i < trampoline.size(); i += 8) {
        std::uint64_t chunk = 0;
        for (std::size_t j = 0; j < 8 && i + j < trampoline.size(); ++j) {
            chunk |= std::uint64_t{trampoline[i + j]} << (8 * j);
        }
        a.mov(Reg::rbx, kTrampoline + i);
        a.mov(Reg::rax, chunk);
        a.store64(Reg::rbx, Reg::rax);
    }
    p.serial("B");
    // The local APIC's ICR takes 32-bit writes only: high half (destination
    // APIC id 1), then the low half, which sends.
    const auto write_apic = [&](std::uint32_t offset, std::uint32_t value) {
        a.mov(Reg::rbx, boot_layout::kLocalApicBase + offset);
        a.mov(Reg::rax, value);
        a.raw({0x89, 0x03});  // mov [rbx], eax
    };
    write_apic(0x310, 1U << 24);
    write_apic(0x300, 0x4500);  // INIT, level assert
    write_apic(0x310, 1U << 24);
    write_apic(0x300, 0x4600 | (kTrampoline >> 12));  // start-up IPI
    a.mov(Reg::rbx, kFlag);
    a.mov(Reg::rcx, 1);
    a.label("wait");
    a.pause();
    a.load(Reg::rax, Reg::rbx);
    a.cmp(Reg::rax, Reg::rcx);
    a.jnz("wait");
    p.serial("\n");
    p.reset();

    SyntheticVm vm(p, 2);
    vm.engine().start();
    ASSERT_EQ(vm.wait_end(), RunState::shutdown) << "console: " << vm.console_text();
    EXPECT_EQ(vm.console_text(), "B1\n");
}

TEST(KvmEngine, StopFromAnotherThreadWhilePaused) {
    MVMM_SKIP_WITHOUT_KVM();
    SyntheticVm vm(counting_guest(), 1);
    vm.engine().start();
    ASSERT_TRUE(wait_counter_above(vm, 10));
    vm.engine().pause();
    std::thread([&] { vm.engine().stop(); }).join();
    EXPECT_EQ(vm.engine().wait(), RunState::shutdown);
}

TEST(KvmEngine, PauseWorksWhenTheStartingThreadBlocksAllSignals) {
    MVMM_SKIP_WITHOUT_KVM();
    // A VMM's main thread often blocks signals (to read them from a signalfd);
    // its vCPU threads inherit that mask.
    std::unique_ptr<SyntheticVm> vm;
    std::thread([&] {
        sigset_t all;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);
        vm = std::make_unique<SyntheticVm>(counting_guest(), 1);
        vm->engine().start();
    }).join();
    ASSERT_TRUE(wait_counter_above(*vm, 10));
    vm->engine().pause();
    EXPECT_EQ(vm->engine().state(), RunState::paused);
    vm->engine().resume();
    vm->engine().stop();
    EXPECT_EQ(vm->engine().wait(), RunState::shutdown);
}

TEST(KvmEngine, TripleFaultEndsTheGuest) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    p.serial("about to fault\n");
    p.a().ud2();  // no IDT at entry: #UD, #DF, triple fault
    SyntheticVm vm(p);
    vm.engine().start();
    ASSERT_EQ(vm.wait_end(), RunState::shutdown);
    const auto end = vm.wait_event(EngineEvent::Kind::shutdown, 1s);
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->reason, "triple-fault");
    EXPECT_EQ(vm.console_text(), "about to fault\n");
}

TEST(KvmEngine, PvPanicPortIsAGuestPanic) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    p.port_out(MVMM_PVPANIC_PORT, 1);
    p.halt_forever();
    SyntheticVm vm(p);
    vm.engine().start();
    ASSERT_EQ(vm.wait_end(), RunState::guest_panicked);
    const auto panic = vm.wait_event(EngineEvent::Kind::panic, 1s);
    ASSERT_TRUE(panic.has_value());
    EXPECT_EQ(panic->reason, "pvpanic");
}

TEST(KvmEngine, ConsolePanicLineThenRebootIsAGuestPanic) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    p.serial("Kernel panic - not syncing: Attempted to kill init!\n");
    p.serial("Rebooting in 1 seconds..\n");
    p.reset();  // panic=-1: the kernel reboots
    SyntheticVm vm(p);
    vm.engine().start();
    ASSERT_EQ(vm.wait_end(), RunState::guest_panicked);
    const auto panic = vm.wait_event(EngineEvent::Kind::panic, 1s);
    ASSERT_TRUE(panic.has_value());
    EXPECT_EQ(panic->reason, "console");
    EXPECT_THAT(panic->data.at("message").get<std::string>(), HasSubstr("Attempted to kill init"));
    const auto end = vm.wait_event(EngineEvent::Kind::shutdown, 1s);
    ASSERT_TRUE(end.has_value());
    EXPECT_EQ(end->reason, "guest-panic");
    // The whole report reached the console before the end.
    EXPECT_THAT(vm.console_text(), HasSubstr("Rebooting in 1 seconds"));
}

// An IDT at kGuestData whose #BP handler prints 'T' and then '=' if the
// saved rip is just after the INT3, '!' otherwise, and returns with IRETQ.
// The IDT of a synthetic guest, at kGuestData: interrupt gates with
// __BOOT_CS to the given handlers, then the IDT descriptor at kIdtr.
constexpr std::uint64_t kIdtr = test::kGuestData + 0x1000;

ElfSegment idt_segment(std::initializer_list<std::pair<unsigned, std::uint64_t>> gates) {
    ElfSegment data;
    data.gpa = test::kGuestData;
    data.bytes.resize(0x1010);
    ByteWriter w(data.bytes);
    for (const auto& [vector, handler] : gates) {
        const std::size_t at = vector * 16U;
        w.u16(at + 0, static_cast<std::uint16_t>(handler));
        w.u16(at + 2, boot_layout::kBootCs);
        w.u8(at + 5, 0x8e);
        w.u16(at + 6, static_cast<std::uint16_t>(handler >> 16));
    }
    w.u16(0x1000, 32 * 16 - 1);
    w.u64(0x1002, test::kGuestData);
    return data;
}

void load_idt(x86asm::Assembler& a) {
    a.raw({0x0f, 0x01, 0x1c, 0x25});  // lidt [kIdtr]
    a.raw({static_cast<std::uint8_t>(kIdtr), static_cast<std::uint8_t>(kIdtr >> 8),
           static_cast<std::uint8_t>(kIdtr >> 16), static_cast<std::uint8_t>(kIdtr >> 24)});
}

TEST(KvmEngine, Int3TrapsToTheGuestsHandler) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    auto& a = p.a();
    load_idt(a);
    a.int3();
    a.label("after_int3");
    p.serial("back\n");
    p.reset();
    a.label("bp_handler");
    p.serial("T");
    a.raw({0x48, 0x8b, 0x04, 0x24});  // mov rax, [rsp]: the saved rip
    a.mov_address(Reg::rbx, "after_int3");
    a.cmp(Reg::rax, Reg::rbx);
    a.jnz("bad");
    p.serial("=\n");
    a.iretq();
    a.label("bad");
    p.serial("!\n");
    p.reset();

    SyntheticVm vm(p, 1, {idt_segment({{3, a.address_of("bp_handler")}})});
    vm.engine().start();
    ASSERT_EQ(vm.wait_end(), RunState::shutdown);
    EXPECT_EQ(vm.console_text(), "T=\nback\n");
}

// Linux runs FWAIT in kernel code (fpu__drop()); where KVM emulates kernel
// code it cannot, and the VMM does it. Either way the guest sees what a CPU
// does: FWAIT goes on, or faults with #NM (rip on the FWAIT) when CR0.TS and
// CR0.MP are set.
TEST(KvmEngine, FwaitGoesOnOrRaisesDeviceNotAvailable) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    auto& a = p.a();
    load_idt(a);
    a.raw({0x9b});  // fwait
    p.serial("1");
    a.raw({0x0f, 0x20, 0xc0});        // mov rax, cr0
    a.raw({0x48, 0x83, 0xc8, 0x0a});  // or rax, TS | MP
    a.raw({0x0f, 0x22, 0xc0});        // mov cr0, rax
    a.label("second_fwait");
    a.raw({0x9b});  // fwait: #NM
    p.serial("2\n");
    p.reset();
    a.label("nm_handler");
    p.serial("N");
    a.raw({0x48, 0x8b, 0x04, 0x24});  // mov rax, [rsp]: the saved rip
    a.mov_address(Reg::rbx, "second_fwait");
    a.cmp(Reg::rax, Reg::rbx);
    a.jnz("bad");
    a.raw({0x0f, 0x06});  // clts: the FWAIT runs again, and goes on
    a.iretq();
    a.label("bad");
    p.serial("!\n");
    p.reset();

    SyntheticVm vm(p, 1, {idt_segment({{7, a.address_of("nm_handler")}})});
    vm.engine().start();
    ASSERT_EQ(vm.wait_end(), RunState::shutdown);
    EXPECT_EQ(vm.console_text(), "1N2\n");
}

TEST(KvmEngine, OtherEmulationFailuresAreInternalErrors) {
    MVMM_SKIP_WITHOUT_KVM();
    if (test::host_check().user_space_works) {
        GTEST_SKIP() << "this host runs guest kernel code natively: nothing fails emulation";
    }
    GuestProgram p;
    p.serial("x\n");
    p.a().raw({0xf3, 0x48, 0x0f, 0xb8, 0xc3});  // popcnt rax, rbx: not emulated here
    p.reset();
    SyntheticVm vm(p);
    vm.engine().start();
    ASSERT_EQ(vm.wait_end(), RunState::internal_error);
    const auto crash = vm.wait_event(EngineEvent::Kind::engine_crash, 1s);
    ASSERT_TRUE(crash.has_value());
    EXPECT_EQ(crash->reason, "emulation-failure");
    EXPECT_EQ(crash->data.at("bytes").get<std::string>().substr(0, 14), "f3 48 0f b8 c3");
    EXPECT_EQ(crash->data.at("vcpu"), 0);
    // The message `mshare-vmm run` prints when it exits with status 4.
    const auto message = crash->data.at("message").get<std::string>();
    EXPECT_TRUE(message.starts_with("vCPU 0: KVM could not emulate the instruction at rip 0x"))
        << message;
    EXPECT_NE(message.find("(bytes f3 48 0f b8 c3"), std::string::npos) << message;
}

UniqueFd connect_unix(const std::filesystem::path& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0)
        << std::strerror(errno);
    return fd;
}

TEST(KvmEngine, AgentChannelOnCom2BothWays) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    auto& a = p.a();
    p.serial("agent ready\n", 0x2f8);
    // Echo every byte from COM2 to COM1 until a '.' arrives.
    a.label("poll");
    a.mov(Reg::rdx, 0x2fd);
    a.in_al_dx();
    a.raw({0xa8, 0x01});  // test al, 1 (LSR.DR)
    a.raw({0x74, 0xf5});  // jz poll (back 11 bytes: mov edx 5, in 1, test 2, jz 2)
    a.mov(Reg::rdx, 0x2f8);
    a.in_al_dx();
    a.mov(Reg::rdx, 0x3f8);
    a.out_dx_al();
    a.raw({0x3c, 0x2e});  // cmp al, '.'
    a.jnz("poll");
    p.reset();
    SyntheticVm vm(p);
    vm.engine().start();
    auto client = connect_unix(vm.config().agent_socket);
    std::string got;
    char buf[64];
    while (got.find('\n') == std::string::npos) {
        const auto n = ::read(client.get(), buf, sizeof buf);
        ASSERT_GT(n, 0);
        got.append(buf, static_cast<std::size_t>(n));
    }
    EXPECT_EQ(got, "agent ready\n");
    const std::string request = "ping 1.";
    ASSERT_EQ(::write(client.get(), request.data(), request.size()),
              static_cast<ssize_t>(request.size()));
    ASSERT_EQ(vm.wait_end(), RunState::shutdown);
    EXPECT_EQ(vm.console_text(), "ping 1.");
}

// The value of statistic `name` in a list of statistics.
std::uint64_t stat(const nlohmann::json& list, const std::string& name) {
    for (const auto& entry : list) {
        if (entry.at("name") == name) {
            return entry.at("value").get<std::uint64_t>();
        }
    }
    ADD_FAILURE() << "no statistic " << name;
    return 0;
}

TEST(KvmEngine, BinaryStatisticsWithUnitsAndTypes) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    p.serial("some port I/O\n");
    p.halt_forever();
    SyntheticVm vm(p, 2);
    vm.engine().start();
    ASSERT_TRUE(vm.wait_console("some port I/O\n"));
    auto* kvm = vm.engine().kvm();
    ASSERT_NE(kvm, nullptr);
    const auto stats = kvm->statistics();
    ASSERT_TRUE(stats.at("vm").is_array());
    ASSERT_EQ(stats.at("vcpus").size(), 2U);
    const auto& vcpu0 = stats.at("vcpus")[0];
    EXPECT_EQ(vcpu0.at("index"), 0);
    // Every port write above left the guest (KVM here counts them as
    // emulated instructions, not io_exits; "exits" counts them everywhere).
    const auto exits = stat(vcpu0.at("stats"), "exits");
    EXPECT_GE(exits, 14U);
    // vCPU 1, an AP waiting for a SIPI, ran no guest code.
    EXPECT_LT(stat(stats.at("vcpus")[1].at("stats"), "exits"), exits);
    // Every statistic has a name, a unit, a type and a value; histograms have arrays.
    for (const auto* list : {&stats.at("vm"), &vcpu0.at("stats")}) {
        for (const auto& entry : *list) {
            ASSERT_TRUE(entry.contains("name") && entry.contains("unit") &&
                        entry.contains("type") && entry.contains("value") &&
                        entry.contains("exponent"))
                << entry.dump();
            EXPECT_EQ(entry.at("value").is_array(),
                      entry.at("type").get<std::string>().find("histogram") != std::string::npos)
                << entry.dump();
        }
    }
    for (const auto& entry : vcpu0.at("stats")) {
        if (entry.at("name") == "exits") {
            EXPECT_EQ(entry.at("type"), "cumulative");
            EXPECT_EQ(entry.at("unit"), "none");
        }
    }
    // pages_4k/2m/1g, summed up in "second-level".
    const auto& second = stats.at("second-level");
    EXPECT_EQ(second.at("pages-4k"), stat(stats.at("vm"), "pages_4k"));
    EXPECT_EQ(second.at("pages-2m"), stat(stats.at("vm"), "pages_2m"));
    EXPECT_EQ(second.at("pages-1g"), stat(stats.at("vm"), "pages_1g"));
    EXPECT_EQ(second.at("mapped-bytes").get<std::uint64_t>(),
              second.at("pages-4k").get<std::uint64_t>() * 4096 +
                  second.at("pages-2m").get<std::uint64_t>() * 2 * 1024 * 1024 +
                  second.at("pages-1g").get<std::uint64_t>() * 1024 * 1024 * 1024);
    // Values are read afresh: the counter only grows.
    const auto later = kvm->statistics();
    EXPECT_GE(stat(later.at("vcpus")[0].at("stats"), "exits"), exits);
    vm.engine().stop();
}

TEST(KvmEngine, DirtyLogSeesTheGuestsWrites) {
    MVMM_SKIP_WITHOUT_KVM();
    SyntheticVm vm(counting_guest());
    vm.engine().start();
    ASSERT_TRUE(wait_counter_above(vm, 10));
    auto* kvm = vm.engine().kvm();
    EXPECT_THROW((void)kvm->dirty_log_collect(), Error);  // no interval yet
    kvm->dirty_log_mark();
    const auto start = counter(vm);
    ASSERT_TRUE(wait_counter_above(vm, start + 100));
    const auto pfns = kvm->dirty_log_collect();
    const std::uint64_t data_pfn = test::kGuestData / 4096;
    EXPECT_NE(std::find(pfns.begin(), pfns.end(), data_pfn), pfns.end());
    // Nothing writes the guest's code page.
    EXPECT_EQ(std::find(pfns.begin(), pfns.end(), test::kGuestCode / 4096), pfns.end());
    // Collecting again keeps what the interval saw.
    const auto again = kvm->dirty_log_collect();
    EXPECT_NE(std::find(again.begin(), again.end(), data_pfn), again.end());
    // A new interval while the guest is paused sees nothing.
    vm.engine().pause();
    kvm->dirty_log_mark();
    EXPECT_TRUE(kvm->dirty_log_collect().empty());
    vm.engine().resume();
    vm.engine().stop();
}

TEST(KvmEngine, MissingKernelIsAnErrorNamingIt) {
    MVMM_SKIP_WITHOUT_KVM();
    test::TempDir dir;
    VmConfig config;
    config.kernel = dir.path() / "no-such-kernel";
    config.agent_socket = dir.path() / "agent.sock";
    ConsoleSink console({});
    EngineSetup setup{config, console, dir.path()};
    setup.allow_kvm_without_user_space = true;
    auto engine = make_kvm_engine(setup);
    try {
        engine->start();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("no-such-kernel': cannot open"));
    }
    EXPECT_EQ(engine->state(), RunState::prelaunch);
    engine->stop();
    EXPECT_EQ(engine->wait(), RunState::shutdown);
}

TEST(KvmEngine, RefusedWhereKvmCannotRunUserSpace) {
    MVMM_SKIP_WITHOUT_KVM();
    if (test::host_check().user_space_works) {
        GTEST_SKIP() << "KVM runs guest user space on this host";
    }
    test::TempDir dir;
    VmConfig config;
    config.kernel = dir.write("k", "x");
    ConsoleSink console({});
    EngineSetup setup{config, console, dir.path()};
    ::unsetenv("MVMM_KVM_ALLOW_NO_USER_SPACE");
    try {
        (void)make_kvm_engine(setup);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), HasSubstr("engine 'kvm': KVM cannot run guest user space here"));
        EXPECT_THAT(e.what(), HasSubstr("MVMM_KVM_ALLOW_NO_USER_SPACE=1"));
    }
}

}  // namespace
}  // namespace mvmm
