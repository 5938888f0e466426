// The QMP wire format without sockets: framing, request parsing, argument
// checks and the messages the server builds.
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include <mvmm/protocol/arguments.hpp>
#include <mvmm/protocol/builders.hpp>
#include <mvmm/protocol/message.hpp>
#include <mvmm/protocol/stream_splitter.hpp>

namespace mvmm::protocol {
namespace {

using Frame = JsonStreamSplitter::Frame;
using nlohmann::json;

std::vector<std::string> texts(const std::vector<Frame>& frames) {
    std::vector<std::string> out;
    for (const auto& f : frames) {
        EXPECT_EQ(f.kind, Frame::Kind::value);
        out.push_back(f.text);
    }
    return out;
}

TEST(StreamSplitter, SeveralObjectsInOneRead) {
    JsonStreamSplitter splitter;
    std::vector<Frame> frames;
    splitter.feed(R"({"execute":"a"}{"execute":"b"}
 {"execute": "c", "arguments": {"x": [1, {"y": "}"}]}}  )",
                  frames);
    EXPECT_EQ(texts(frames), (std::vector<std::string>{
                                 R"({"execute":"a"})", R"({"execute":"b"})",
                                 R"({"execute": "c", "arguments": {"x": [1, {"y": "}"}]}})"}));
    EXPECT_TRUE(splitter.idle());
}

TEST(StreamSplitter, OneObjectAcrossReadsCutAnywhere) {
    const std::string message =
        R"({"execute": "x", "arguments": {"s": "a \"quoted\" } brace \\", "n": [1,[2]]}, "id": 7})";
    // Every way of cutting the message in two, and byte by byte.
    for (std::size_t cut = 0; cut < message.size(); ++cut) {
        JsonStreamSplitter splitter;
        std::vector<Frame> frames;
        splitter.feed(message.substr(0, cut), frames);
        EXPECT_TRUE(frames.empty()) << "cut at " << cut;
        splitter.feed(message.substr(cut), frames);
        ASSERT_EQ(frames.size(), 1U) << "cut at " << cut;
        EXPECT_EQ(frames[0].text, message);
    }
    JsonStreamSplitter splitter;
    std::vector<Frame> frames;
    for (char c : message + "\r\n" + message) {
        splitter.feed(std::string_view(&c, 1), frames);
    }
    EXPECT_EQ(texts(frames), (std::vector<std::string>{message, message}));
}

TEST(StreamSplitter, RandomChunkingGivesTheSameFrames) {
    std::string stream;
    std::vector<std::string> expected;
    for (int i = 0; i < 50; ++i) {
        expected.push_back(
            json{{"execute", "cmd"}, {"id", i}, {"arguments", {{"s", "}{\\\""}}}}.dump());
        stream += expected.back() + (i % 3 == 0 ? "\r\n" : "");
    }
    std::mt19937 rng(12345);
    for (int round = 0; round < 20; ++round) {
        JsonStreamSplitter splitter;
        std::vector<Frame> frames;
        std::size_t pos = 0;
        while (pos < stream.size()) {
            const std::size_t n = std::uniform_int_distribution<std::size_t>(1, 40)(rng);
            splitter.feed(std::string_view(stream).substr(pos, n), frames);
            pos += n;
        }
        EXPECT_EQ(texts(frames), expected);
    }
}

TEST(StreamSplitter, ScalarsAndGarbageBecomeFramesOfTheirOwn) {
    JsonStreamSplitter splitter;
    std::vector<Frame> frames;
    splitter.feed("hello world\n42 \"a b\"} [1]x{\"a\":1}", frames);
    EXPECT_EQ(texts(frames), (std::vector<std::string>{"hello", "world", "42", "\"a b\"", "}",
                                                       "[1]", "x", R"({"a":1})"}));
}

TEST(StreamSplitter, OversizedValueFailsTheStream) {
    JsonStreamSplitter splitter(64);
    std::vector<Frame> frames;
    splitter.feed(R"({"execute":"ok"})", frames);
    splitter.feed(R"({"execute": ")" + std::string(100, 'a'), frames);
    ASSERT_EQ(frames.size(), 2U);
    EXPECT_EQ(frames[0].kind, Frame::Kind::value);
    EXPECT_EQ(frames[1].kind, Frame::Kind::oversized);
    EXPECT_TRUE(splitter.failed());
    splitter.feed(R"("}{"execute":"more"})", frames);
    EXPECT_EQ(frames.size(), 2U) << "no frames after the stream failed";
}

TEST(StreamSplitter, ExactlyAtTheLimitIsAccepted) {
    const std::string message = R"({"execute":")" + std::string(100, 'a') + R"("})";
    JsonStreamSplitter at_limit(message.size());
    std::vector<Frame> frames;
    at_limit.feed(message, frames);
    ASSERT_EQ(frames.size(), 1U);
    EXPECT_EQ(frames[0].kind, Frame::Kind::value);
    JsonStreamSplitter below(message.size() - 1);
    frames.clear();
    below.feed(message, frames);
    ASSERT_EQ(frames.size(), 1U);
    EXPECT_EQ(frames[0].kind, Frame::Kind::oversized);
}

TEST(StreamSplitter, TooDeepValueIsDroppedAndTheStreamGoesOn) {
    JsonStreamSplitter splitter(1 << 20, 8);
    std::vector<Frame> frames;
    splitter.feed(std::string(20, '[') + std::string(20, ']') + R"({"execute":"x"})", frames);
    ASSERT_EQ(frames.size(), 2U);
    EXPECT_EQ(frames[0].kind, Frame::Kind::too_deep);
    EXPECT_EQ(frames[1].kind, Frame::Kind::value);
    EXPECT_EQ(frames[1].text, R"({"execute":"x"})");
    EXPECT_FALSE(splitter.failed());
}

TEST(ParseRequest, ValidCommands) {
    auto result = parse_request(R"({"execute": "stop"})");
    ASSERT_TRUE(std::holds_alternative<Request>(result));
    auto request = std::get<Request>(result);
    EXPECT_EQ(request.execute, "stop");
    EXPECT_EQ(request.arguments, json::object());
    EXPECT_FALSE(request.id);

    result = parse_request(R"({"id": {"n": [1]}, "arguments": {"pid": 3}, "execute": "x"})");
    ASSERT_TRUE(std::holds_alternative<Request>(result));
    request = std::get<Request>(result);
    EXPECT_EQ(request.arguments, (json{{"pid", 3}}));
    ASSERT_TRUE(request.id);
    EXPECT_EQ(*request.id, (json{{"n", {1}}}));
}

RequestError error_of(std::string_view text) {
    auto result = parse_request(text);
    EXPECT_TRUE(std::holds_alternative<RequestError>(result)) << text;
    return std::holds_alternative<RequestError>(result) ? std::get<RequestError>(result)
                                                        : RequestError{};
}

TEST(ParseRequest, BadMessagesSayWhy) {
    auto e = error_of(R"({"execute": )");
    EXPECT_EQ(e.error_class, ErrorClass::generic_error);
    EXPECT_NE(e.desc.find("invalid JSON"), std::string::npos) << e.desc;
    EXPECT_EQ(e.desc.find("json.exception"), std::string::npos) << e.desc;

    EXPECT_EQ(error_of("[1, 2]").desc, "a message must be a JSON object, not array");
    EXPECT_EQ(error_of("42").desc, "a message must be a JSON object, not integer");
    EXPECT_NE(error_of("1e999").desc.find("invalid JSON"), std::string::npos);
    EXPECT_NE(error_of("\"\xff\"").desc.find("invalid JSON"), std::string::npos);

    e = error_of(R"({"id": 5})");
    EXPECT_NE(e.desc.find("'execute'"), std::string::npos);
    ASSERT_TRUE(e.id);
    EXPECT_EQ(*e.id, 5);

    e = error_of(R"({"execute": 3, "id": "a"})");
    EXPECT_EQ(e.desc, "member 'execute' must be a string, not integer");
    EXPECT_EQ(*e.id, "a");
    EXPECT_EQ(error_of(R"({"execute": "x", "arguments": [1]})").desc,
              "member 'arguments' must be an object, not array");
    EXPECT_NE(error_of(R"({"execute": "x", "argument": {}})").desc.find("'argument'"),
              std::string::npos);
    EXPECT_NE(error_of(R"({"exec-oob": "x"})").desc.find("exec-oob"), std::string::npos);
}

TEST(CheckArguments, RequiredUnknownAndTypes) {
    const std::vector<ArgSpec> specs{{"pid", ArgType::unsigned_integer, true},
                                     {"names", ArgType::string_list, false},
                                     {"live", ArgType::boolean, false}};
    EXPECT_NO_THROW(check_arguments(json{{"pid", 1}}, specs));
    EXPECT_NO_THROW(
        check_arguments(json{{"pid", 1}, {"names", {"a", "b"}}, {"live", true}}, specs));
    auto message = [&](const json& args) {
        try {
            check_arguments(args, specs);
        } catch (const CommandError& e) {
            EXPECT_EQ(e.error_class(), ErrorClass::generic_error);
            return std::string(e.what());
        }
        return std::string("(accepted)");
    };
    EXPECT_EQ(message(json::object()), "parameter 'pid' is missing (non-negative integer)");
    EXPECT_EQ(message(json{{"pid", -1}}),
              "parameter 'pid' must be non-negative integer, not a negative integer");
    EXPECT_EQ(message(json{{"pid", "1"}}),
              "parameter 'pid' must be non-negative integer, not string");
    EXPECT_EQ(message(json{{"pid", 1.5}}),
              "parameter 'pid' must be non-negative integer, not number");
    EXPECT_EQ(message(json{{"pid", 1}, {"names", {"a", 2}}}),
              "parameter 'names' must be array of strings, not array");
    EXPECT_EQ(message(json{{"pid", 1}, {"bogus", 2}}),
              "unexpected parameter 'bogus' (allowed: 'pid', 'names', 'live')");
    EXPECT_THROW(check_arguments(json{{"x", 1}}, std::span<const ArgSpec>{}), CommandError);
}

TEST(Builders, MessagesHaveQmpShapes) {
    const VersionInfo version{1, 2, 3, "pkg"};
    EXPECT_EQ(greeting(version),
              json::parse(R"({"QMP": {"version": {"qemu": {"major": 1, "minor": 2, "micro": 3},
                              "package": "pkg"}, "capabilities": []}})"));
    EXPECT_EQ(return_message(json::object(), std::nullopt), json::parse(R"({"return": {}})"));
    EXPECT_EQ(return_message(json{{"a", 1}}, json("x")),
              json::parse(R"({"return": {"a": 1}, "id": "x"})"));
    EXPECT_EQ(error_message(ErrorClass::kvm_missing_cap, "no", json(3)),
              json::parse(R"({"error": {"class": "KVMMissingCap", "desc": "no"}, "id": 3})"));
    const auto when =
        std::chrono::system_clock::time_point(std::chrono::microseconds(1'700'000'000'123'456));
    EXPECT_EQ(event_message("STOP", json::object(), when),
              json::parse(R"({"event": "STOP", "timestamp": {"seconds": 1700000000,
                              "microseconds": 123456}})"));
    const json data = {{"guest", true}};
    EXPECT_EQ(event_message("SHUTDOWN", data, when)["data"], data);
    const auto text = encode(json{{"s", std::string("bad \xff byte")}});
    EXPECT_EQ(text.substr(text.size() - 2), "\r\n");
    EXPECT_TRUE(json::accept(text));
    const auto build = build_version();
    EXPECT_FALSE(build.package.empty());
    EXPECT_EQ(version_json(build)["qemu"]["major"], build.major);
}

TEST(ErrorClasses, RoundTrip) {
    for (auto c :
         {ErrorClass::generic_error, ErrorClass::command_not_found, ErrorClass::device_not_active,
          ErrorClass::device_not_found, ErrorClass::kvm_missing_cap}) {
        EXPECT_EQ(error_class_from_string(to_string(c)), c);
    }
    EXPECT_EQ(to_string(ErrorClass::device_not_active), "DeviceNotActive");
    EXPECT_FALSE(error_class_from_string("Nope"));
}

}  // namespace
}  // namespace mvmm::protocol
