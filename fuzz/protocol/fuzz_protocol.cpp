// libFuzzer target for the control socket's message parser: arbitrary bytes
// as a client's stream, cut into reads of fuzzer-chosen sizes, through the
// splitter, the request parser, the argument checks and the reply builder.
//
// Checked besides "no crash, no sanitizer report, no stray exception":
//   - the splitter gives the same frames however the stream is cut;
//   - every reply the server would send is valid JSON ending in "\r\n".
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include <mvmm/protocol/arguments.hpp>
#include <mvmm/protocol/builders.hpp>
#include <mvmm/protocol/message.hpp>
#include <mvmm/protocol/stream_splitter.hpp>

namespace {

using mvmm::protocol::ArgSpec;
using mvmm::protocol::ArgType;
using Frame = mvmm::protocol::JsonStreamSplitter::Frame;

// Small limits, so the fuzzer reaches them.
constexpr std::size_t kMaxMessage = 4096;
constexpr std::size_t kMaxDepth = 16;

const std::vector<ArgSpec>& specs() {
    static const std::vector<ArgSpec> kSpecs{
        {"pid", ArgType::unsigned_integer, true}, {"path", ArgType::string, false},
        {"args", ArgType::string_list, false},    {"timeout", ArgType::number, false},
        {"live", ArgType::boolean, false},        {"n", ArgType::integer, false},
        {"obj", ArgType::object, false},          {"any", ArgType::any, false}};
    return kSpecs;
}

void check(bool ok) {
    if (!ok) {
        std::abort();
    }
}

void reply_must_encode(const nlohmann::json& message) {
    const std::string text = mvmm::protocol::encode(message);
    check(text.size() >= 2 && text.compare(text.size() - 2, 2, "\r\n") == 0);
    check(nlohmann::json::accept(std::string_view(text).substr(0, text.size() - 2)));
}

void handle(const Frame& frame) {
    if (frame.kind != Frame::Kind::value) {
        reply_must_encode(mvmm::protocol::error_message(mvmm::protocol::ErrorClass::generic_error,
                                                        "too large or too deep", std::nullopt));
        return;
    }
    auto parsed = mvmm::protocol::parse_request(frame.text);
    if (auto* error = std::get_if<mvmm::protocol::RequestError>(&parsed)) {
        reply_must_encode(
            mvmm::protocol::error_message(error->error_class, error->desc, error->id));
        return;
    }
    const auto& request = std::get<mvmm::protocol::Request>(parsed);
    check(request.arguments.is_object());
    try {
        mvmm::protocol::check_arguments(request.arguments, specs());
        // After the check the typed getters must agree with the types.
        (void)mvmm::protocol::arg_unsigned(request.arguments, "pid");
        (void)mvmm::protocol::arg_string(request.arguments, "path");
        (void)mvmm::protocol::arg_number(request.arguments, "timeout");
        reply_must_encode(mvmm::protocol::return_message(request.arguments, request.id));
    } catch (const mvmm::protocol::CommandError& e) {
        reply_must_encode(mvmm::protocol::error_message(e.error_class(), e.what(), request.id));
    }
}

std::vector<Frame> split(std::string_view stream, std::string_view cuts) {
    mvmm::protocol::JsonStreamSplitter splitter(kMaxMessage, kMaxDepth);
    std::vector<Frame> frames;
    std::size_t pos = 0;
    std::size_t cut = 0;
    while (pos < stream.size()) {
        std::size_t n = stream.size() - pos;
        if (cut < cuts.size()) {
            n = std::min<std::size_t>(n, static_cast<unsigned char>(cuts[cut++]) % 64 + 1);
        }
        splitter.feed(stream.substr(pos, n), frames);
        pos += n;
    }
    return frames;
}

}  // namespace

// Input: one byte N, then N bytes of read sizes, then the stream.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) {
        return 0;
    }
    const std::string_view bytes(reinterpret_cast<const char*>(data), size);
    const std::size_t cut_count =
        std::min<std::size_t>(static_cast<unsigned char>(bytes[0]), bytes.size() - 1);
    const std::string_view cuts = bytes.substr(1, cut_count);
    const std::string_view stream = bytes.substr(1 + cut_count);

    const auto whole = split(stream, {});
    const auto pieces = split(stream, cuts);
    check(whole.size() == pieces.size());
    for (std::size_t i = 0; i < whole.size(); ++i) {
        check(whole[i].kind == pieces[i].kind && whole[i].text == pieces[i].text);
    }
    for (const auto& frame : whole) {
        handle(frame);
    }
    return 0;
}
