#include <mvmm/protocol/stream_splitter.hpp>

namespace mvmm::protocol {
namespace {

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_structural(char c) {
    return c == '{' || c == '[' || c == '}' || c == ']' || c == '"';
}

}  // namespace

JsonStreamSplitter::JsonStreamSplitter(std::size_t max_message_bytes, std::size_t max_depth)
    : max_bytes_(max_message_bytes), max_depth_(max_depth) {}

void JsonStreamSplitter::keep(char c) {
    ++length_;
    if (!too_deep_) {
        text_ += c;
    }
}

void JsonStreamSplitter::begin(char c) {
    text_.clear();
    length_ = 0;
    depth_ = 0;
    too_deep_ = false;
    if (c == '{' || c == '[') {
        state_ = State::container;
        depth_ = 1;
    } else if (c == '"') {
        state_ = State::string;
    } else {
        state_ = State::scalar;
    }
    keep(c);
}

void JsonStreamSplitter::emit(std::vector<Frame>& out) {
    if (length_ > max_bytes_) {
        fail(out);
        return;
    }
    Frame frame;
    if (too_deep_) {
        frame.kind = Frame::Kind::too_deep;
    } else {
        frame.text = std::move(text_);
    }
    out.push_back(std::move(frame));
    text_.clear();
    length_ = 0;
    depth_ = 0;
    too_deep_ = false;
    state_ = State::idle;
}

void JsonStreamSplitter::fail(std::vector<Frame>& out) {
    out.push_back(Frame{Frame::Kind::oversized, {}});
    text_.clear();
    text_.shrink_to_fit();
    state_ = State::idle;
    failed_ = true;
}

void JsonStreamSplitter::feed(std::string_view bytes, std::vector<Frame>& out) {
    for (std::size_t i = 0; i < bytes.size() && !failed_; ++i) {
        const char c = bytes[i];
        switch (state_) {
            case State::idle:
                if (is_space(c)) {
                    continue;
                }
                begin(c);
                if (c == '}' || c == ']') {
                    emit(out);  // a stray closer: a frame of its own that will not parse
                }
                break;
            case State::container:
                keep(c);
                if (c == '"') {
                    state_ = State::string;
                } else if (c == '{' || c == '[') {
                    if (++depth_ > max_depth_) {
                        too_deep_ = true;
                        text_.clear();
                    }
                } else if (c == '}' || c == ']') {
                    if (--depth_ == 0) {
                        emit(out);
                    }
                }
                break;
            case State::string:
                keep(c);
                if (c == '\\') {
                    state_ = State::string_escape;
                } else if (c == '"') {
                    if (depth_ == 0) {
                        emit(out);
                    } else {
                        state_ = State::container;
                    }
                }
                break;
            case State::string_escape:
                keep(c);
                state_ = State::string;
                break;
            case State::scalar:
                if (is_space(c)) {
                    emit(out);
                } else if (is_structural(c)) {
                    emit(out);
                    --i;  // the delimiter starts the next frame
                } else {
                    keep(c);
                }
                break;
        }
        if (state_ != State::idle && length_ > max_bytes_) {
            fail(out);
        }
    }
}

}  // namespace mvmm::protocol
