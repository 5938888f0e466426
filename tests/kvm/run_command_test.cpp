// `mshare-vmm run` on the KVM engine: how synthetic guests end becomes the
// exit status and the message, with the real binary. Where KVM cannot run
// guest user space (the development machines), engine 'kvm' needs
// MVMM_KVM_ALLOW_NO_USER_SPACE=1, and that is checked too.
#include <cstdlib>
#include <string>
#include <vector>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mvmm/common/unique_fd.hpp>
#include <mvmm/guest_abi.h>
#include <mvmm/qemu/child_process.hpp>

#include "synthetic_vm.hpp"

namespace mvmm {
namespace {

using test::GuestProgram;
using x86asm::Reg;

const std::string kVmm = std::string(MVMM_BINARY_DIR) + "/vmm/app/mshare-vmm";
constexpr const char* kAllow = "MVMM_KVM_ALLOW_NO_USER_SPACE";

struct RunResult {
    int status = -1;  // exit status, or 128 + signal
    std::string stderr_text;
};

// Runs `mshare-vmm run` on a config that boots `program` with engine 'kvm'.
// `allow`: set MVMM_KVM_ALLOW_NO_USER_SPACE=1 for the child.
RunResult run_vmm(const GuestProgram& program, const std::vector<std::string>& options,
                  bool allow = true) {
    test::TempDir dir;
    const auto image = program.elf();
    const auto kernel = dir.write(
        "guest.elf", std::string(reinterpret_cast<const char*>(image.data()), image.size()));
    const auto config = dir.write(
        "vm.json", R"({"name": "kvm-run", "engine": "kvm", "memory_mib": 64, "kernel": ")" +
                       kernel.string() + "\"}");
    std::vector<std::string> argv = {kVmm, "run", "--config", config.string()};
    argv.insert(argv.end(), options.begin(), options.end());

    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    UniqueFd read_end(fds[0]);
    UniqueFd write_end(fds[1]);
    // The child takes this process's environment.
    if (allow) {
        ::setenv(kAllow, "1", 1);
    } else {
        ::unsetenv(kAllow);
    }
    ChildProcess child({.argv = argv, .inherit_fds = {}, .stderr_fd = write_end.get()});
    ::unsetenv(kAllow);
    write_end.reset();
    RunResult result;
    char buffer[4096];
    ssize_t n = 0;
    while ((n = ::read(read_end.get(), buffer, sizeof buffer)) > 0) {
        result.stderr_text.append(buffer, static_cast<std::size_t>(n));
    }
    const int status = child.wait();
    result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

TEST(KvmRunCommand, BootMarkerThenStopAfterBootIsStatus0) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    p.port_out(MVMM_MARKER_PORT, MVMM_MARKER_BOOT_COMPLETE);
    p.halt_forever();
    const auto r = run_vmm(p, {"--stop-after-boot"});
    EXPECT_EQ(r.status, 0) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "boot complete after")) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "the VM runs on the kvm engine")) << r.stderr_text;
    if (!test::host_check().user_space_works) {
        EXPECT_TRUE(contains(r.stderr_text, "forced by MVMM_KVM_ALLOW_NO_USER_SPACE=1"))
            << r.stderr_text;
    }
}

TEST(KvmRunCommand, GuestResetIsStatus0) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    p.serial("bye\n");
    p.reset();
    const auto r = run_vmm(p, {"--stop-after", "120"});
    EXPECT_EQ(r.status, 0) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "the VM ended: shutdown")) << r.stderr_text;
    EXPECT_FALSE(contains(r.stderr_text, "--stop-after 120 s passed")) << r.stderr_text;
}

TEST(KvmRunCommand, PvPanicIsStatus3) {
    MVMM_SKIP_WITHOUT_KVM();
    GuestProgram p;
    p.port_out(MVMM_PVPANIC_PORT, 1);
    p.halt_forever();
    const auto r = run_vmm(p, {"--stop-after", "120"});
    EXPECT_EQ(r.status, 3) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "guest panic")) << r.stderr_text;
}

TEST(KvmRunCommand, EmulationFailureIsStatus4WithTheInstruction) {
    MVMM_SKIP_WITHOUT_KVM();
    if (test::host_check().user_space_works) {
        GTEST_SKIP() << "this host runs guest kernel code natively: nothing fails emulation";
    }
    GuestProgram p;
    p.a().raw({0xf3, 0x48, 0x0f, 0xb8, 0xc3});  // popcnt rax, rbx: not emulated here
    p.reset();
    const auto r = run_vmm(p, {"--stop-after", "120"});
    EXPECT_EQ(r.status, 4) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text,
                         "mshare-vmm run: engine failure: vCPU 0: KVM could not "
                         "emulate the instruction at rip 0x"))
        << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "(bytes f3 48 0f b8 c3")) << r.stderr_text;
}

TEST(KvmRunCommand, EngineKvmWithoutUserSpaceIsStatus4UnlessForced) {
    MVMM_SKIP_WITHOUT_KVM();
    if (test::host_check().user_space_works) {
        GTEST_SKIP() << "KVM runs guest user space here, so engine 'kvm' needs no forcing";
    }
    GuestProgram p;
    p.reset();
    const auto r = run_vmm(p, {}, /*allow=*/false);
    EXPECT_EQ(r.status, 4) << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "engine 'kvm': KVM cannot run guest user space here"))
        << r.stderr_text;
    EXPECT_TRUE(contains(r.stderr_text, "MVMM_KVM_ALLOW_NO_USER_SPACE=1")) << r.stderr_text;
}

}  // namespace
}  // namespace mvmm
