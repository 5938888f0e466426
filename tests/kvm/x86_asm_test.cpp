// The synthetic guests' code emitter: encodings checked against the SDM.
#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/kvm/x86_asm.hpp>

namespace mvmm {
namespace {

using x86asm::Assembler;
using x86asm::Reg;

std::vector<unsigned> bytes(const Assembler& a) {
    std::vector<unsigned> out;
    for (auto b : a.finish()) {
        out.push_back(std::to_integer<unsigned>(b));
    }
    return out;
}

TEST(X86Asm, Moves) {
    Assembler a;
    a.mov(Reg::rcx, 1000);                   // b9 imm32 (zero-extends)
    a.mov(Reg::rax, 0x1122334455667788ULL);  // 48 b8 imm64
    a.mov(Reg::r9, 1);                       // 41 b9 imm32
    a.mov(Reg::rdx, Reg::rax);               // 48 89 c2
    a.load(Reg::rax, Reg::rbx);              // 48 8b 03
    a.store64(Reg::rbx, Reg::rax);           // 48 89 03
    a.store8(Reg::rdi, Reg::rax);            // 88 07
    EXPECT_EQ(bytes(a), (std::vector<unsigned>{0xb9, 0xe8, 0x03, 0x00, 0x00, 0x48, 0xb8, 0x88,
                                               0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x41,
                                               0xb9, 0x01, 0x00, 0x00, 0x00, 0x48, 0x89, 0xc2,
                                               0x48, 0x8b, 0x03, 0x48, 0x89, 0x03, 0x88, 0x07}));
}

TEST(X86Asm, ArithmeticAndStack) {
    Assembler a;
    a.dec(Reg::rcx);            // 48 ff c9
    a.inc(Reg::rax);            // 48 ff c0
    a.add(Reg::rax, 4096);      // 48 81 c0 00 10 00 00
    a.cmp(Reg::rax, Reg::rbx);  // 48 39 d8
    a.push(Reg::rbp);           // 55
    a.pop(Reg::r11);            // 41 5b
    a.push_imm(0x23);           // 68 23 00 00 00
    EXPECT_EQ(bytes(a), (std::vector<unsigned>{0x48, 0xff, 0xc9, 0x48, 0xff, 0xc0, 0x48, 0x81,
                                               0xc0, 0x00, 0x10, 0x00, 0x00, 0x48, 0x39, 0xd8,
                                               0x55, 0x41, 0x5b, 0x68, 0x23, 0x00, 0x00, 0x00}));
}

TEST(X86Asm, SystemInstructions) {
    Assembler a;
    a.out_dx_al();
    a.in_al_dx();
    a.out_imm8_al(0xe9);
    a.hlt();
    a.syscall();
    a.sysretq();
    a.iretq();
    a.wrmsr();
    a.ud2();
    a.int3();
    a.mov_cr2_to(Reg::rax);
    EXPECT_EQ(bytes(a),
              (std::vector<unsigned>{0xee, 0xec, 0xe6, 0xe9, 0xf4, 0x0f, 0x05, 0x48, 0x0f, 0x07,
                                     0x48, 0xcf, 0x0f, 0x30, 0x0f, 0x0b, 0xcc, 0x0f, 0x20, 0xd0}));
}

TEST(X86Asm, LabelsAndJumps) {
    Assembler a(0x200000);
    a.label("top");                  // 0x200000
    a.dec(Reg::rcx);                 // 3 bytes
    a.jnz("top");                    // 0f 85 rel32 = 0x200000 - 0x200009 = -9
    a.jmp("end");                    // e9 rel32 = 0x200013 - 0x20000e = 5
    a.mov_address(Reg::rbx, "top");  // bb 00 00 20 00
    a.label("end");
    EXPECT_EQ(a.address_of("end"), 0x200013U);
    EXPECT_EQ(bytes(a),
              (std::vector<unsigned>{0x48, 0xff, 0xc9, 0x0f, 0x85, 0xf7, 0xff, 0xff, 0xff, 0xe9,
                                     0x05, 0x00, 0x00, 0x00, 0xbb, 0x00, 0x00, 0x20, 0x00}));
}

TEST(X86Asm, Errors) {
    Assembler a;
    a.jmp("nowhere");
    EXPECT_THROW((void)a.finish(), Error);
    a.label("x");
    EXPECT_THROW(a.label("x"), Error);
    EXPECT_THROW((void)a.address_of("y"), Error);
    EXPECT_THROW(a.load(Reg::rax, Reg::rsp), Error);
}

}  // namespace
}  // namespace mvmm
