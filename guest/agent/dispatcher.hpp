// Turns one request message into one reply, qemu-guest-agent style:
//   {"execute": NAME, "arguments": {...}, "id": ANY}
//   -> {"return": VALUE, "id": ANY}  or  {"error": {"class": C, "desc": D}, "id": ANY}
// "arguments" and "id" are optional; "id" is echoed when present. Any other
// member, invalid JSON, a non-object or an unknown command gets an error reply.
#pragma once

#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

namespace mvmm::agent {

// What a handler may ask of the loop besides its return value.
struct CallContext {
    bool delimited = false;             // precede the reply with the 0xFF delimiter
    std::function<void()> after_reply;  // run once the reply is written
};

using Handler = std::function<nlohmann::json(const nlohmann::json& arguments, CallContext&)>;

class Dispatcher {
  public:
    void add(const std::string& name, Handler handler);
    [[nodiscard]] std::vector<std::string> commands() const;

    // The reply to one message text: compact JSON and a newline, preceded by
    // the delimiter byte if the handler asked for it.
    std::string handle(std::string_view text, CallContext& ctx) const;

    // An error reply with no id, for input that is not a message at all.
    static std::string error_reply(const std::string& error_class, const std::string& desc);

  private:
    std::map<std::string, Handler> handlers_;
};

}  // namespace mvmm::agent
