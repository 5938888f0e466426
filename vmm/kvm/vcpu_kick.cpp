#include "vcpu_kick.hpp"

#include <atomic>
#include <csignal>
#include <mutex>

#include <mvmm/common/error.hpp>

namespace mvmm::kvm {
namespace {

void on_kick(int /*signal*/) {}

}  // namespace

int kick_signal() {
    static std::once_flag once;
    static int number = 0;
    std::call_once(once, [] {
        number = SIGRTMIN + 3;
        struct sigaction action {};
        action.sa_handler = on_kick;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;  // KVM_RUN returns EINTR anyway; other calls restart
        if (::sigaction(number, &action, nullptr) != 0) {
            throw_errno("vCPU kick signal: sigaction");
        }
    });
    return number;
}

sigset_t unblock_kick_signal() {
    sigset_t kick_set;
    sigset_t previous;
    sigemptyset(&kick_set);
    sigaddset(&kick_set, kick_signal());
    ::pthread_sigmask(SIG_UNBLOCK, &kick_set, &previous);
    return previous;
}

void clear_immediate_exit(kvm_run* run) {
    std::atomic_ref(run->immediate_exit).store(0, std::memory_order_seq_cst);
}

void kick(kvm_run* run, pthread_t thread) {
    std::atomic_ref(run->immediate_exit).store(1, std::memory_order_seq_cst);
    ::pthread_kill(thread, kick_signal());
}

}  // namespace mvmm::kvm
