// Replays every example of docs/control-protocol.md against a server with
// the deterministic fake backend, so the page cannot drift from the code.
//
// The page's ```qmp blocks hold "-> " lines (sent as they are) and "<- "
// lines (expected, in order; a message may continue on following lines).
// Each block gets a fresh server and a client past negotiation, unless the
// block starts with "<- ", which is then the expected greeting. An HTML
// comment `<!-- doc-test: engine=qemu agent=disconnected -->` before a block
// sets up the backend. Event timestamps must be well-formed; their values
// are not compared.
//
// ```qmp-event blocks hold one event each; the test makes the VMM emit it
// (from the fixed engine events below) and compares what a client receives.
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/client.hpp>
#include <mvmm/control/command_table.hpp>
#include <mvmm/control/events.hpp>
#include <mvmm/control/server.hpp>

#include "control/support/fake_backend.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::control {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Item {
    bool send = false;
    std::string text;
};

struct Block {
    int line = 0;
    bool event = false;
    std::map<std::string, std::string> setup;
    std::vector<Item> items;
};

// For gtest's messages.
[[maybe_unused]] void PrintTo(const Block& block, std::ostream* out) {
    *out << "the example at doc line " << block.line;
}

const std::filesystem::path kDoc =
    std::filesystem::path(MVMM_SOURCE_DIR) / "docs" / "control-protocol.md";

std::vector<Block> load_blocks() {
    std::ifstream in(kDoc);
    std::vector<Block> blocks;
    std::map<std::string, std::string> setup;
    std::string line;
    int number = 0;
    Block* current = nullptr;
    while (std::getline(in, line)) {
        ++number;
        if (current == nullptr) {
            if (starts_with(line, "<!-- doc-test:")) {
                const auto body = line.substr(14, line.find("-->") - 14);
                for (const auto& word : split(body, ' ')) {
                    const auto eq = word.find('=');
                    if (eq != std::string::npos) {
                        setup[word.substr(0, eq)] = word.substr(eq + 1);
                    }
                }
            } else if (line == "```qmp" || line == "```qmp-event") {
                blocks.push_back(Block{number, line == "```qmp-event", setup, {}});
                setup.clear();
                current = &blocks.back();
            }
            continue;
        }
        if (line == "```") {
            current = nullptr;
        } else if (starts_with(line, "-> ") || starts_with(line, "<- ")) {
            current->items.push_back(Item{line[0] == '-', line.substr(3)});
        } else if (!current->items.empty()) {
            current->items.back().text += "\n" + line;
        }
    }
    return blocks;
}

// The engine events the examples show, as an engine would report them.
std::map<std::string, std::function<void(ControlServer&)>> event_triggers() {
    const auto engine = [](EngineEvent::Kind kind, std::string reason, json data) {
        return [=](ControlServer& server) {
            EngineEvent event;
            event.kind = kind;
            event.reason = reason;
            event.data = data;
            server.publish(event);
        };
    };
    return {
        {"SHUTDOWN", engine(EngineEvent::Kind::shutdown, "guest-shutdown", json::object())},
        {"STOP", engine(EngineEvent::Kind::stop, "", json::object())},
        {"RESUME", engine(EngineEvent::Kind::resume, "", json::object())},
        {"RESET", engine(EngineEvent::Kind::reset, "guest-reset", json::object())},
        {"GUEST_PANICKED",
         engine(EngineEvent::Kind::panic, "",
                {{"message",
                  "Kernel panic - not syncing: Attempted to kill init! exitcode=0x00000009"}})},
        {"MSHARE_BOOT_COMPLETE", engine(EngineEvent::Kind::boot_complete, "", {{"seconds", 1.93}})},
        {"MSHARE_ENGINE_CRASH",
         engine(EngineEvent::Kind::engine_crash, "qemu-exited",
                {{"exit-status", 1},
                 {"stderr-tail",
                  "qemu-system-x86_64: cannot set up guest memory 'ram': Cannot "
                  "allocate memory"}})},
        {std::string(kAgentReadyEvent),
         [](ControlServer& server) {
             server.publish(kAgentReadyEvent, {{"seconds", 2.41}});
         }},
    };
}

// Events carry the time they happened; only the shape is checked.
void expect_same(const json& expected, json actual, int line) {
    if (expected.contains("event") && expected.contains("timestamp")) {
        ASSERT_TRUE(actual.contains("timestamp")) << "doc line " << line << ": " << actual;
        const auto& ts = actual["timestamp"];
        EXPECT_TRUE(ts["seconds"].is_number_integer()) << actual;
        EXPECT_TRUE(ts["microseconds"].is_number_integer()) << actual;
        EXPECT_GE(ts["microseconds"].get<std::int64_t>(), 0);
        EXPECT_LT(ts["microseconds"].get<std::int64_t>(), 1000000);
        actual["timestamp"] = expected["timestamp"];
    }
    EXPECT_EQ(expected, actual) << "doc line " << line << "\n  doc:    " << expected.dump()
                                << "\n  server: " << actual.dump();
}

class DocExample : public ::testing::TestWithParam<Block> {
  protected:
    void SetUp() override { log::set_level(log::Level::error); }
    mvmm::test::TempDir dir;
    std::filesystem::path socket = dir.path() / "control.sock";
    test::FakeBackend backend;
};

TEST_P(DocExample, MatchesTheServer) {
    const Block& block = GetParam();
    ASSERT_FALSE(block.items.empty()) << "empty example at doc line " << block.line;
    for (const auto& [key, value] : block.setup) {
        if (key == "engine" && value == "qemu") {
            backend.set_kvm(false);
        } else if (key == "agent" && value == "disconnected") {
            backend.set_agent_connected(false);
        } else {
            FAIL() << "doc line " << block.line << ": unknown doc-test setup " << key << "="
                   << value;
        }
    }
    ControlServer server(ServerOptions{.socket_path = socket}, backend.backend());
    backend.set_event_sink([&](const EngineEvent& e) { server.publish(e); });

    std::size_t next = 0;
    const bool from_greeting = !block.items.front().send && !block.event;
    QmpClient client(socket, QmpClient::Options{10s, !from_greeting});
    if (from_greeting) {
        expect_same(json::parse(block.items.front().text), client.greeting(), block.line);
        next = 1;
    }
    if (block.event) {
        ASSERT_EQ(block.items.size(), 1U) << "doc line " << block.line;
        const auto expected = json::parse(block.items[0].text);
        const auto triggers = event_triggers();
        const auto it = triggers.find(expected.value("event", ""));
        ASSERT_NE(it, triggers.end())
            << "doc line " << block.line << ": no way to make event " << expected["event"];
        it->second(server);
        const auto actual = client.read_message(10s);
        ASSERT_TRUE(actual) << "doc line " << block.line << ": no event arrived";
        expect_same(expected, *actual, block.line);
    } else {
        for (; next < block.items.size(); ++next) {
            const Item& item = block.items[next];
            if (item.send) {
                client.send_raw(item.text + "\n");
                continue;
            }
            const auto actual = client.read_message(10s);
            ASSERT_TRUE(actual) << "doc line " << block.line << ": no reply for " << item.text;
            expect_same(json::parse(item.text), *actual, block.line);
        }
        // Nothing more than the page shows.
        const auto extra = client.read_message(100ms);
        EXPECT_FALSE(extra) << "doc line " << block.line << ": unexpected " << extra->dump();
    }
    backend.set_event_sink({});
}

INSTANTIATE_TEST_SUITE_P(ControlProtocolMd, DocExample, ::testing::ValuesIn(load_blocks()),
                         [](const ::testing::TestParamInfo<Block>& param) {
                             return cat("line_", param.param.line);
                         });

TEST(DocCoverage, EveryCommandAndEventHasAnExample) {
    const auto blocks = load_blocks();
    ASSERT_GT(blocks.size(), 10U) << "examples not found in " << kDoc;
    std::set<std::string> commands;
    std::set<std::string> events;
    for (const auto& block : blocks) {
        for (const auto& item : block.items) {
            const auto message = json::parse(item.text, nullptr, false);
            if (item.send && message.is_object() && message.contains("execute")) {
                commands.insert(message["execute"].get<std::string>());
            }
            if (!item.send && message.is_object() && message.contains("event")) {
                events.insert(message["event"].get<std::string>());
            }
        }
    }
    test::FakeBackend backend;
    for (const auto& name : make_command_table(backend.backend()).names()) {
        EXPECT_TRUE(commands.count(name)) << "command " << name << " has no example";
    }
    EXPECT_TRUE(commands.count("qmp_capabilities"));
    for (const auto& [name, trigger] : event_triggers()) {
        EXPECT_TRUE(events.count(name)) << "event " << name << " has no example";
    }
    for (auto kind : {EngineEvent::Kind::stop, EngineEvent::Kind::resume, EngineEvent::Kind::reset,
                      EngineEvent::Kind::shutdown, EngineEvent::Kind::panic,
                      EngineEvent::Kind::engine_crash, EngineEvent::Kind::boot_complete}) {
        EXPECT_TRUE(event_triggers().count(std::string(qmp_event_name(kind))))
            << "engine event " << qmp_event_name(kind) << " is not documented";
    }
}

}  // namespace
}  // namespace mvmm::control
