#include <gtest/gtest.h>

#include <mvmm/agent/json_stream.hpp>

namespace mvmm::agent {
namespace {

using Kind = JsonStreamSplitter::Item::Kind;

std::vector<JsonStreamSplitter::Item> feed_all(JsonStreamSplitter& s, std::string_view bytes) {
    std::vector<JsonStreamSplitter::Item> out;
    s.feed(bytes, out);
    return out;
}

TEST(JsonStream, SplitsObjectsWithAndWithoutSeparators) {
    JsonStreamSplitter s(1024);
    const auto items = feed_all(s, "{\"a\":1}{\"b\":[1,{\"c\":2}]}\n  {}\r\n[1,2]");
    ASSERT_EQ(items.size(), 4u);
    EXPECT_EQ(items[0].text, "{\"a\":1}");
    EXPECT_EQ(items[1].text, "{\"b\":[1,{\"c\":2}]}");
    EXPECT_EQ(items[2].text, "{}");
    EXPECT_EQ(items[3].text, "[1,2]");
    for (const auto& i : items) {
        EXPECT_EQ(i.kind, Kind::message);
    }
}

TEST(JsonStream, BracketsAndEscapesInsideStringsDoNotCount) {
    JsonStreamSplitter s(1024);
    const std::string msg = R"({"s":"}{][\"\\","t":"\"}"})";
    const auto items = feed_all(s, msg + "{}");
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].text, msg);
    EXPECT_EQ(items[1].text, "{}");
}

TEST(JsonStream, OneMessageAcrossManyReadsGivesTheSameResult) {
    const std::string stream = R"({"execute":"guest-ping","id":"x\"}"} {"execute":"b"})";
    JsonStreamSplitter s(1024);
    std::vector<JsonStreamSplitter::Item> out;
    for (const char c : stream) {
        s.feed(std::string_view(&c, 1), out);
    }
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].text, R"({"execute":"guest-ping","id":"x\"}"})");
    EXPECT_EQ(out[1].text, R"({"execute":"b"})");
    EXPECT_EQ(s.buffered(), 0u);
}

TEST(JsonStream, GarbageGivesOneErrorPerRunAndThenMessagesFlowAgain) {
    JsonStreamSplitter s(1024);
    std::vector<JsonStreamSplitter::Item> out;
    s.feed("hello wor", out);
    s.feed("ld{\"a\":1} 42 ", out);
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].kind, Kind::error);
    EXPECT_EQ(out[0].text, "invalid input: expected a JSON object, got 'hello'");
    EXPECT_EQ(out[1].kind, Kind::error);
    EXPECT_EQ(out[1].text, "invalid input: expected a JSON object, got 'world'");
    EXPECT_EQ(out[2].kind, Kind::message);
    EXPECT_EQ(out[2].text, "{\"a\":1}");
    EXPECT_EQ(out[3].kind, Kind::error);
    EXPECT_EQ(out[3].text, "invalid input: expected a JSON object, got '42'");
}

TEST(JsonStream, LongGarbageIsReportedWithItsSizeNotStored) {
    JsonStreamSplitter s(64);
    const auto items = feed_all(s, std::string(100000, 'z') + " {}");
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].kind, Kind::error);
    EXPECT_NE(items[0].text.find("(100000 bytes)"), std::string::npos) << items[0].text;
    EXPECT_LT(items[0].text.size(), 200u);
    EXPECT_EQ(items[1].text, "{}");
}

TEST(JsonStream, OversizedMessageIsAnErrorWithoutBufferingIt) {
    JsonStreamSplitter s(100);
    std::vector<JsonStreamSplitter::Item> out;
    s.feed(R"({"execute":"guest-exec","arguments":{"input-data":")", out);
    for (int i = 0; i < 1000; ++i) {
        s.feed(std::string(1000, 'A'), out);  // a megabyte, in pieces
        EXPECT_LE(s.buffered(), 100u);
    }
    s.feed("\"}}{\"execute\":\"guest-ping\"}", out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].kind, Kind::error);
    EXPECT_EQ(out[0].text, "message too large: more than 100 bytes; skipping the rest of it");
    EXPECT_EQ(out[1].kind, Kind::message);
    EXPECT_EQ(out[1].text, "{\"execute\":\"guest-ping\"}");
}

TEST(JsonStream, DelimiterDropsThePartialMessage) {
    JsonStreamSplitter s(1024);
    std::vector<JsonStreamSplitter::Item> out;
    s.feed("{\"execute\":\"half", out);
    EXPECT_TRUE(out.empty());
    s.feed("\xff{\"execute\":\"whole\"}", out);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].kind, Kind::delimiter);
    EXPECT_EQ(out[1].kind, Kind::message);
    EXPECT_EQ(out[1].text, "{\"execute\":\"whole\"}");
}

TEST(JsonStream, UnbalancedClosersAreGarbage) {
    JsonStreamSplitter s(1024);
    const auto items = feed_all(s, "}} {}");
    ASSERT_EQ(items.size(), 2u);
    EXPECT_EQ(items[0].kind, Kind::error);
    EXPECT_EQ(items[1].text, "{}");
}

}  // namespace
}  // namespace mvmm::agent
