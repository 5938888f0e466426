// A real Linux boot under the KVM engine (label slow): the project's guest
// kernel (out/kernel/vmlinux). Where KVM can run guest user space the boot,
// with the project's initramfs, goes on to the agent's boot-complete marker.
// Where it cannot (KVM emulating kernel code, as on the development machines)
// it goes as far as the kernel's "Run /init" line, with an initramfs that
// holds only /init: unpacking the full one (7 MiB) would take the emulated
// kernel about five minutes, for a user space that cannot run here anyway.
// That costs minutes of CPU, so there the test runs only when
// MVMM_TEST_KVM_EMULATED_BOOT=1 is set, and skips with the reason otherwise.
// The test prints which happened, and when.
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

#include <mvmm/common/clock.hpp>
#include <mvmm/engine/console.hpp>
#include <mvmm/engine/factory.hpp>
#include <mvmm/kvm/host_check.hpp>

#include "cpio_writer.hpp"
#include "manifest.hpp"
#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

using namespace std::chrono_literals;

TEST(KvmLinuxBoot, BootsTheGuestKernel) {
    const std::filesystem::path out = std::filesystem::path(MVMM_SOURCE_DIR) / "out";
    const auto vmlinux = out / "kernel" / "vmlinux";
    if (!std::filesystem::exists(vmlinux)) {
        GTEST_SKIP() << vmlinux << " is not built yet (scripts/setup.sh builds it)";
    }
    const auto check = check_kvm_host();
    if (!check.kvm_usable) {
        GTEST_SKIP() << check.reason;
    }
    const bool full_boot = check.user_space_works;
    const char* const emulated = std::getenv("MVMM_TEST_KVM_EMULATED_BOOT");
    if (!full_boot && (emulated == nullptr || std::string_view(emulated) != "1")) {
        GTEST_SKIP() << check.reason
                     << "; so the guest cannot get past the kernel's 'Run /init' here, and "
                        "booting that far means emulating every kernel instruction (minutes of "
                        "CPU time). Set MVMM_TEST_KVM_EMULATED_BOOT=1 to boot to 'Run /init' "
                        "anyway.";
    }

    test::TempDir dir;
    VmConfig config;
    config.name = "linux-boot";
    config.kernel = vmlinux;
    config.agent_socket = dir.path() / "agent.sock";
    if (full_boot) {
        const auto initramfs = out / "initramfs" / "initramfs.cpio";
        if (!std::filesystem::exists(initramfs)) {
            GTEST_SKIP() << initramfs << " is not built yet (scripts/setup.sh builds it)";
        }
        config.initramfs = initramfs;
        config.vcpus = 2;
        config.memory_mib = 256;
    } else {
        // Every kernel instruction is emulated here: one vCPU (no AP start-up
        // to emulate), the least memory (less struct page set-up) and an
        // initramfs with nothing but the project's /init script keep the
        // boot short.
        initramfs::Entry init;
        init.path = "init";
        init.mode = 0755;
        init.source = std::filesystem::path(MVMM_SOURCE_DIR) / "guest" / "init" / "init.sh";
        initramfs::Manifest manifest;
        manifest.add(init);
        const auto initramfs = dir.path() / "init-only.cpio";
        initramfs::write_cpio(manifest, initramfs);
        config.initramfs = initramfs;
        config.vcpus = 1;
        config.memory_mib = 64;
    }
    ConsoleSink console({dir.path() / "console.log", false, 400});
    Stopwatch watch;
    std::atomic<bool> reached_init{false};
    console.set_line_watcher([&](std::string_view line) {
        // Progress for whoever watches the test log.
        std::printf("[%7.1f s] %.*s\n", watch.seconds(), static_cast<int>(line.size()),
                    line.data());
        std::fflush(stdout);
        if (line.find("Run /init as init process") != std::string_view::npos) {
            reached_init = true;
        }
    });
    EngineSetup setup{config, console, dir.path()};
    setup.allow_kvm_without_user_space = true;
    auto engine = make_kvm_engine(setup);
    std::atomic<bool> boot_complete{false};
    engine->set_event_handler([&](const EngineEvent& e) {
        if (e.kind == EngineEvent::Kind::boot_complete) {
            boot_complete = true;
        }
    });
    engine->start();

    const auto limit = 25min;
    const auto done = [&] { return full_boot ? boot_complete.load() : reached_init.load(); };
    while (!done() && engine->state() != RunState::shutdown &&
           engine->state() != RunState::internal_error && watch.seconds() < limit.count() * 60.0) {
        std::this_thread::sleep_for(100ms);
    }
    const double seconds = watch.seconds();
    const auto state = engine->state();
    engine->stop();
    engine->wait();

    if (full_boot) {
        ASSERT_TRUE(boot_complete) << "no boot-complete marker; the VM ended " << to_string(state);
        std::cout << "KVM engine: booted to the agent (boot-complete marker) in " << seconds
                  << " s\n";
    } else {
        ASSERT_TRUE(reached_init) << "the kernel did not reach 'Run /init'; the VM ended "
                                  << to_string(state) << "; console tail:\n"
                                  << [&] {
                                         std::string t;
                                         for (const auto& l : console.tail(30)) {
                                             t += l + "\n";
                                         }
                                         return t;
                                     }();
        std::cout << "KVM engine: reached 'Run /init' in " << seconds
                  << " s; the boot cannot go further on this host: " << check.reason << "\n";
    }
}

}  // namespace
}  // namespace mvmm
