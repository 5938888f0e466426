// A tiny x86-64 code emitter for the synthetic guests of the host check,
// the KVM tests and the benchmarks. It knows the few instructions those
// guests use, with labels for jumps; it is not a general assembler.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mvmm::x86asm {

enum class Reg : std::uint8_t { rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi, r8, r9, r10, r11 };

class Assembler {
  public:
    // `origin`: the guest address of the first byte (for absolute labels).
    explicit Assembler(std::uint64_t origin = 0) : origin_(origin) {}

    [[nodiscard]] std::uint64_t origin() const noexcept { return origin_; }
    [[nodiscard]] std::uint64_t here() const noexcept { return origin_ + code_.size(); }
    // The code; throws Error if a jump's label was never bound.
    [[nodiscard]] std::vector<std::byte> finish() const;

    void label(const std::string& name);
    [[nodiscard]] std::uint64_t address_of(const std::string& name) const;

    // Instructions.
    void mov(Reg dst, std::uint64_t imm);                 // mov r64, imm64 (or imm32 zero-extended)
    void mov(Reg dst, Reg src);                           // mov r64, r64
    void mov_address(Reg dst, const std::string& label);  // mov r32, imm32 = label (below 4 GiB)
    void load(Reg dst, Reg base);                         // mov r64, [base]
    void store8(Reg base, Reg src);                       // mov [base], src8 (al..bl)
    void store64(Reg base, Reg src);                      // mov [base], r64
    void add(Reg dst, std::int32_t imm);                  // add r64, imm32
    void cmp(Reg a, Reg b);                               // cmp r64, r64
    void dec(Reg r);                                      // dec r64
    void inc(Reg r);                                      // inc r64
    void push(Reg r);
    void pop(Reg r);
    void push_imm(std::int32_t imm);      // push imm32 (sign-extended)
    void out_dx_al();                     // out dx, al
    void out_dx_eax();                    // out dx, eax
    void in_al_dx();                      // in al, dx
    void out_imm8_al(std::uint8_t port);  // out imm8, al
    void mov_cr2_to(Reg dst);             // mov r64, cr2
    void jmp(const std::string& target);  // jmp rel32
    void jnz(const std::string& target);  // jnz rel32
    void jb(const std::string& target);   // jb rel32
    void hlt();
    void cli();
    void sti();
    void pause();
    void int3();
    void ud2();
    void syscall();
    void sysretq();
    void iretq();
    void wrmsr();
    void rdmsr();
    void nop();
    void raw(std::initializer_list<std::uint8_t> bytes);

  private:
    void rex_w(Reg rm, Reg reg = Reg::rax);
    void byte(std::uint8_t b) { code_.push_back(static_cast<std::byte>(b)); }
    void imm32(std::uint32_t v);
    void jump(std::initializer_list<std::uint8_t> opcode, const std::string& target);

    std::uint64_t origin_;
    std::vector<std::byte> code_;
    std::map<std::string, std::uint64_t> labels_;
    struct Fixup {
        std::size_t at;  // offset of the 32-bit field in code_
        std::string target;
        bool absolute = false;  // the label's address, not relative to the next instruction
    };
    std::vector<Fixup> fixups_;
};

}  // namespace mvmm::x86asm
