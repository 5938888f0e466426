// Runs the protocol fuzz target (fuzz/protocol/fuzz_protocol.cpp) in the
// ordinary test build: over its seeds, and over deterministic mutations of
// them, so its checks run on every build, not only in fuzz builds.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

std::vector<std::string> seeds() {
    return mvmm::test::read_files_in(std::filesystem::path(MVMM_SOURCE_DIR) / "fuzz" / "protocol" /
                                     "seeds");
}

void run(const std::string& input) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

TEST(ProtocolFuzzTarget, Seeds) {
    const auto inputs = seeds();
    ASSERT_GE(inputs.size(), 5U);
    for (const auto& input : inputs) {
        run(input);
    }
}

TEST(ProtocolFuzzTarget, DeterministicMutations) {
    const auto inputs = seeds();
    std::mt19937 rng(20261125);
    const std::string alphabet = "{}[]\":,\\ \r\nexecuteargumentsid0123456789.-+eEtruefalsenull";
    for (int round = 0; round < 3000; ++round) {
        std::string input = inputs[rng() % inputs.size()];
        const int edits = 1 + static_cast<int>(rng() % 8);
        for (int e = 0; e < edits && !input.empty(); ++e) {
            const std::size_t pos = rng() % input.size();
            switch (rng() % 4) {
                case 0:
                    input[pos] = alphabet[rng() % alphabet.size()];
                    break;
                case 1:
                    input.insert(pos, 1, static_cast<char>(rng() & 0xff));
                    break;
                case 2:
                    input.erase(pos, 1 + rng() % 4);
                    break;
                default:
                    input.insert(pos, input.substr(pos, rng() % 32));
                    break;
            }
        }
        run(input);
    }
}

}  // namespace
