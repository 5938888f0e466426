// Writes well-formed synthetic kernel images into a folder, as the seed
// corpus of fuzz_loader: usage: fuzz_loader_seeds DIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "loader/synthetic_images.hpp"

namespace {

void write(const std::filesystem::path& path, const std::vector<std::byte>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<long>(bytes.size()));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    mvmm::test::BzImageSpec spec;
    spec.payload_size = 0x400;
    write(dir / "bzimage-2.15", mvmm::test::make_bzimage(spec));
    spec.version = 0x0206;
    spec.relocatable = 0;
    write(dir / "bzimage-2.06", mvmm::test::make_bzimage(spec));
    write(dir / "vmlinux-small", mvmm::test::make_small_elf());
    return 0;
}
