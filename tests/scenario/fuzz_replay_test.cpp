// Runs the scenario-file fuzz target (fuzz/scenario/fuzz_scenario.cpp) in the
// ordinary test build: over its seeds, and over deterministic mutations of
// them, so that every build checks that no malformed scenario file crashes
// the parser or the assertion evaluator, and that every rejection names the
// file. The mutations work on the JSON tree (values of the wrong type, keys
// removed or renamed, members duplicated), which reaches the parser's checks
// far more often than byte edits, and on the text.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/files.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using nlohmann::json;

std::vector<std::string> seeds() {
    return mvmm::test::read_files_in(std::filesystem::path(MVMM_SOURCE_DIR) / "fuzz" / "scenario" /
                                     "seeds");
}

void run(const std::string& input) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(input.data()), input.size());
}

// Every node of the tree, for picking one at random.
void collect(json& node, std::vector<json*>& out) {
    out.push_back(&node);
    if (node.is_structured()) {
        for (auto& child : node) {
            collect(child, out);
        }
    }
}

json odd_value(std::mt19937& rng) {
    switch (rng() % 12) {
        case 0:
            return nullptr;
        case 1:
            return true;
        case 2:
            return -1;
        case 3:
            return 0;
        case 4:
            return 1e308;
        case 5:
            return 4294967296ULL * 4294967295ULL;
        case 6:
            return "";
        case 7:
            return "${N}";
        case 8:
            return "$${x}${";
        case 9:
            return json::array();
        case 10:
            return json::object();
        default:
            return "/a/~2/b";
    }
}

void mutate_tree(json& doc, std::mt19937& rng) {
    std::vector<json*> nodes;
    collect(doc, nodes);
    json& n = *nodes[rng() % nodes.size()];
    switch (rng() % 5) {
        case 0:
            n = odd_value(rng);
            break;
        case 1:
            if (n.is_object() && !n.empty()) {
                auto it = n.begin();
                std::advance(it, static_cast<long>(rng() % n.size()));
                n.erase(it.key());
            } else if (n.is_array() && !n.empty()) {
                n.erase(n.begin() + static_cast<long>(rng() % n.size()));
            }
            break;
        case 2:
            if (n.is_object() && !n.empty()) {
                auto it = n.begin();
                std::advance(it, static_cast<long>(rng() % n.size()));
                n[it.key() + "x"] = it.value();
            }
            break;
        case 3:
            if (n.is_array() && !n.empty()) {
                n.push_back(n[rng() % n.size()]);
            }
            break;
        default:
            if (n.is_object()) {
                n["type"] = odd_value(rng);
            } else {
                n = json::array({n, n});
            }
            break;
    }
}

TEST(ScenarioFuzzTarget, Seeds) {
    const auto inputs = seeds();
    ASSERT_GE(inputs.size(), 7U);
    for (const auto& input : inputs) {
        run(input);
    }
}

TEST(ScenarioFuzzTarget, TreeMutations) {
    const auto inputs = seeds();
    std::mt19937 rng(20261126);
    for (int round = 0; round < 3000; ++round) {
        json doc = json::parse(inputs[rng() % inputs.size()]);
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits; ++e) {
            mutate_tree(doc, rng);
        }
        run(doc.dump());
    }
}

TEST(ScenarioFuzzTarget, TextMutations) {
    const auto inputs = seeds();
    std::mt19937 rng(20261127);
    const std::string alphabet = "{}[]\":,\\ $~/0123456789.-+eEtruefalsenull";
    for (int round = 0; round < 1000; ++round) {
        std::string input = inputs[rng() % inputs.size()];
        const int edits = 1 + static_cast<int>(rng() % 4);
        for (int e = 0; e < edits && !input.empty(); ++e) {
            const std::size_t pos = rng() % input.size();
            if (rng() % 2 == 0) {
                input[pos] = alphabet[rng() % alphabet.size()];
            } else {
                input.erase(pos, 1 + rng() % 4);
            }
        }
        run(input);
    }
}

}  // namespace
