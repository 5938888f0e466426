#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/kvm/x86_asm.hpp>

namespace mvmm::x86asm {
namespace {

std::uint8_t low3(Reg r) {
    return static_cast<std::uint8_t>(r) & 7;
}
bool extended(Reg r) {
    return static_cast<std::uint8_t>(r) >= 8;
}

}  // namespace

std::vector<std::byte> Assembler::finish() const {
    auto code = code_;
    for (const auto& f : fixups_) {
        const auto it = labels_.find(f.target);
        if (it == labels_.end()) {
            throw Error(cat("x86 assembler: label ", quote(f.target), " is not defined"));
        }
        std::uint32_t v = 0;
        if (f.absolute) {
            if (it->second > 0xffffffffULL) {
                throw Error(cat("x86 assembler: label ", quote(f.target), " is above 4 GiB"));
            }
            v = static_cast<std::uint32_t>(it->second);
        } else {
            const auto next = static_cast<std::int64_t>(origin_ + f.at + 4);
            const auto rel = static_cast<std::int64_t>(it->second) - next;
            v = static_cast<std::uint32_t>(static_cast<std::int32_t>(rel));
        }
        for (int i = 0; i < 4; ++i) {
            code[f.at + static_cast<std::size_t>(i)] = static_cast<std::byte>(v >> (8 * i));
        }
    }
    return code;
}

void Assembler::label(const std::string& name) {
    if (!labels_.emplace(name, here()).second) {
        throw Error(cat("x86 assembler: label ", quote(name), " defined twice"));
    }
}

std::uint64_t Assembler::address_of(const std::string& name) const {
    const auto it = labels_.find(name);
    if (it == labels_.end()) {
        throw Error(cat("x86 assembler: label ", quote(name), " is not defined"));
    }
    return it->second;
}

void Assembler::imm32(std::uint32_t v) {
    for (int i = 0; i < 4; ++i) {
        byte(static_cast<std::uint8_t>(v >> (8 * i)));
    }
}

void Assembler::rex_w(Reg rm, Reg reg) {
    byte(static_cast<std::uint8_t>(0x48 | (extended(reg) ? 4 : 0) | (extended(rm) ? 1 : 0)));
}

void Assembler::mov(Reg dst, std::uint64_t imm) {
    if (imm <= 0xffffffffULL) {
        if (extended(dst)) {
            byte(0x41);
        }
        byte(static_cast<std::uint8_t>(0xb8 + low3(dst)));  // mov r32, imm32 zero-extends
        imm32(static_cast<std::uint32_t>(imm));
        return;
    }
    rex_w(dst);
    byte(static_cast<std::uint8_t>(0xb8 + low3(dst)));
    imm32(static_cast<std::uint32_t>(imm));
    imm32(static_cast<std::uint32_t>(imm >> 32));
}

void Assembler::mov(Reg dst, Reg src) {
    rex_w(dst, src);
    byte(0x89);
    byte(static_cast<std::uint8_t>(0xc0 | (low3(src) << 3) | low3(dst)));
}

void Assembler::mov_address(Reg dst, const std::string& label) {
    if (extended(dst)) {
        byte(0x41);
    }
    byte(static_cast<std::uint8_t>(0xb8 + low3(dst)));
    fixups_.push_back({code_.size(), label, true});
    imm32(0);
}

void Assembler::load(Reg dst, Reg base) {
    if (low3(base) == 4 || low3(base) == 5) {
        throw Error("x86 assembler: load through rsp/rbp/r12/r13 is not supported");
    }
    rex_w(base, dst);
    byte(0x8b);
    byte(static_cast<std::uint8_t>((low3(dst) << 3) | low3(base)));
}

void Assembler::store8(Reg base, Reg src) {
    if (low3(base) == 4 || low3(base) == 5 || static_cast<std::uint8_t>(src) > 3) {
        throw Error("x86 assembler: store8 supports al..bl through rax..rdi but rsp/rbp");
    }
    if (extended(base)) {
        byte(0x41);
    }
    byte(0x88);
    byte(static_cast<std::uint8_t>((low3(src) << 3) | low3(base)));
}

void Assembler::store64(Reg base, Reg src) {
    if (low3(base) == 4 || low3(base) == 5) {
        throw Error("x86 assembler: store through rsp/rbp/r12/r13 is not supported");
    }
    rex_w(base, src);
    byte(0x89);
    byte(static_cast<std::uint8_t>((low3(src) << 3) | low3(base)));
}

void Assembler::add(Reg dst, std::int32_t imm) {
    rex_w(dst);
    byte(0x81);
    byte(static_cast<std::uint8_t>(0xc0 | low3(dst)));
    imm32(static_cast<std::uint32_t>(imm));
}

void Assembler::cmp(Reg a, Reg b) {
    rex_w(a, b);
    byte(0x39);
    byte(static_cast<std::uint8_t>(0xc0 | (low3(b) << 3) | low3(a)));
}

void Assembler::dec(Reg r) {
    rex_w(r);
    byte(0xff);
    byte(static_cast<std::uint8_t>(0xc8 | low3(r)));
}

void Assembler::inc(Reg r) {
    rex_w(r);
    byte(0xff);
    byte(static_cast<std::uint8_t>(0xc0 | low3(r)));
}

void Assembler::push(Reg r) {
    if (extended(r)) {
        byte(0x41);
    }
    byte(static_cast<std::uint8_t>(0x50 + low3(r)));
}

void Assembler::pop(Reg r) {
    if (extended(r)) {
        byte(0x41);
    }
    byte(static_cast<std::uint8_t>(0x58 + low3(r)));
}

void Assembler::push_imm(std::int32_t imm) {
    byte(0x68);
    imm32(static_cast<std::uint32_t>(imm));
}

void Assembler::out_dx_al() {
    byte(0xee);
}
void Assembler::out_dx_eax() {
    byte(0xef);
}
void Assembler::in_al_dx() {
    byte(0xec);
}
void Assembler::out_imm8_al(std::uint8_t port) {
    byte(0xe6);
    byte(port);
}

void Assembler::mov_cr2_to(Reg dst) {
    if (extended(dst)) {
        byte(0x41);
    }
    byte(0x0f);
    byte(0x20);
    byte(static_cast<std::uint8_t>(0xd0 | low3(dst)));
}

void Assembler::jump(std::initializer_list<std::uint8_t> opcode, const std::string& target) {
    for (auto b : opcode) {
        byte(b);
    }
    fixups_.push_back({code_.size(), target, false});
    imm32(0);
}

void Assembler::jmp(const std::string& target) {
    jump({0xe9}, target);
}
void Assembler::jnz(const std::string& target) {
    jump({0x0f, 0x85}, target);
}
void Assembler::jb(const std::string& target) {
    jump({0x0f, 0x82}, target);
}
void Assembler::hlt() {
    byte(0xf4);
}
void Assembler::cli() {
    byte(0xfa);
}
void Assembler::sti() {
    byte(0xfb);
}
void Assembler::pause() {
    raw({0xf3, 0x90});
}
void Assembler::int3() {
    byte(0xcc);
}
void Assembler::ud2() {
    raw({0x0f, 0x0b});
}
void Assembler::syscall() {
    raw({0x0f, 0x05});
}
void Assembler::sysretq() {
    raw({0x48, 0x0f, 0x07});
}
void Assembler::iretq() {
    raw({0x48, 0xcf});
}
void Assembler::wrmsr() {
    raw({0x0f, 0x30});
}
void Assembler::rdmsr() {
    raw({0x0f, 0x32});
}
void Assembler::nop() {
    byte(0x90);
}

void Assembler::raw(std::initializer_list<std::uint8_t> bytes) {
    for (auto b : bytes) {
        byte(b);
    }
}

}  // namespace mvmm::x86asm
