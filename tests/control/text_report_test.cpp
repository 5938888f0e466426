// render_text: readable text for any reply shape.
#include <gtest/gtest.h>

#include <mvmm/control/text_report.hpp>

namespace mvmm::control {
namespace {

using nlohmann::json;

TEST(TextReport, ScalarsTablesAndSections) {
    const auto value = json::parse(R"({
        "consistent": false,
        "table-bytes": 2142208,
        "rows": [{"comm": "a", "pid": 7, "sharers": [1, 2]}, {"pid": 12, "comm": "bb"}],
        "host": {"size": 4096}
    })");
    EXPECT_EQ(render_text(value),
              "consistent   no\n"
              "table-bytes  2.0 MiB (2142208)\n"
              "\n"
              "host:\n"
              "  size  4.0 KiB (4096)\n"
              "\n"
              "rows:\n"
              "  PID  COMM  SHARERS\n"
              "  7    a     1,2\n"
              "  12   bb    -\n");
}

TEST(TextReport, EmptyObjectArraysAndScalars) {
    EXPECT_EQ(render_text(json::object()), "ok\n");
    EXPECT_EQ(render_text(json::array({"x", 3})), "x\n3\n");
    EXPECT_EQ(render_text(json("text")), "text\n");
    EXPECT_EQ(render_text(json::parse(R"([{"name": "n", "value": 1}])"), "  "),
              "  NAME  VALUE\n  n     1\n");
    EXPECT_EQ(render_cell("x", json::parse(R"({"a": 1})")), R"({"a":1})");
    EXPECT_EQ(render_cell("mapped-bytes", json(-1)), "-1");
    EXPECT_EQ(render_cell("s", json(std::string("bad \xff"))), std::string("bad \xff"));
}

}  // namespace
}  // namespace mvmm::control
