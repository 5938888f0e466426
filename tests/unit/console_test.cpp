#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include <mvmm/engine/console.hpp>
#include <mvmm/engine/events.hpp>

#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

TEST(ConsoleSink, WritesLogKeepsTailAndReportsLines) {
    test::TempDir dir;
    ConsoleSink sink(
        {.log_file = dir.path() / "console.log", .echo_stdout = false, .tail_lines = 2});
    std::vector<std::string> seen;
    sink.set_line_watcher([&](std::string_view line) { seen.emplace_back(line); });
    sink.write("one\r\ntw");
    sink.write("o\nthree\nfou");
    EXPECT_EQ(seen, (std::vector<std::string>{"one", "two", "three"}));
    EXPECT_EQ(sink.tail(10), (std::vector<std::string>{"two", "three", "fou"}));
    EXPECT_EQ(sink.tail(1), (std::vector<std::string>{"fou"}));
    EXPECT_EQ(sink.bytes_written(), 18U);
    std::ifstream in(dir.path() / "console.log");
    std::stringstream text;
    text << in.rdbuf();
    EXPECT_EQ(text.str(), "one\r\ntwo\nthree\nfou");
}

TEST(Events, QmpNamesAndStates) {
    EXPECT_EQ(qmp_event_name(EngineEvent::Kind::panic), "GUEST_PANICKED");
    EXPECT_EQ(qmp_event_name(EngineEvent::Kind::stop), "STOP");
    EXPECT_EQ(to_string(RunState::internal_error), "internal-error");
}

}  // namespace
}  // namespace mvmm
