// Clients we did not write talk to the server the way users' tools do:
// `socat` piping JSON in, and Python's standard library doing what
// qmp-shell and qemu.qmp do on the wire.
#include <gtest/gtest.h>

#include <mvmm/common/log.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/control/server.hpp>

#include "control/support/fake_backend.hpp"
#include "control/support/run_process.hpp"
#include "support/temp_dir.hpp"

namespace mvmm::control {
namespace {

using nlohmann::json;

bool have_program(const std::string& name, const std::filesystem::path& scratch) {
    return test::run_process("command -v " + name + " >/dev/null", scratch).status == 0;
}

class ExternalClients : public ::testing::Test {
  protected:
    void SetUp() override {
        log::set_level(log::Level::error);
        server = std::make_unique<ControlServer>(ServerOptions{.socket_path = socket},
                                                 backend.backend());
        backend.set_event_sink([this](const EngineEvent& e) { server->publish(e); });
    }
    void TearDown() override { backend.set_event_sink({}); }

    mvmm::test::TempDir dir;
    std::filesystem::path socket = dir.path() / "control.sock";
    test::FakeBackend backend;
    std::unique_ptr<ControlServer> server;
};

TEST_F(ExternalClients, Socat) {
    if (!have_program("socat", dir.path())) {
        GTEST_SKIP() << "socat is not installed (Debian package socat; scripts/setup.sh adds it)";
    }
    const auto input = dir.write("input.txt",
                                 "{\"execute\": \"qmp_capabilities\"}\n"
                                 "{\"execute\": \"query-status\", \"id\": 1}\n"
                                 "{\"execute\": \"stop\", \"id\": 2}\n"
                                 "not json\n");
    const auto result = test::run_process(
        "socat -t 10 - UNIX-CONNECT:'" + socket.string() + "' < '" + input.string() + "'",
        dir.path());
    ASSERT_EQ(result.status, 0) << result.err;
    // Every message ends in \r\n.
    ASSERT_GE(result.out.size(), 2U);
    EXPECT_EQ(result.out.substr(result.out.size() - 2), "\r\n");
    std::vector<json> messages;
    for (const auto& line : split(result.out, '\n')) {
        if (!line.empty()) {
            EXPECT_EQ(line.back(), '\r');
            messages.push_back(json::parse(line));
        }
    }
    // "not json" is two bare words outside any object: one error each.
    ASSERT_EQ(messages.size(), 7U) << result.out;
    EXPECT_TRUE(messages[0].contains("QMP"));
    EXPECT_EQ(messages[1], json::parse(R"({"return": {}})"));
    EXPECT_EQ(messages[2]["id"], 1);
    EXPECT_EQ(messages[2]["return"]["status"], "running");
    EXPECT_EQ(messages[3]["event"], "STOP");
    EXPECT_EQ(messages[4], json::parse(R"({"return": {}, "id": 2})"));
    EXPECT_EQ(messages[5]["error"]["class"], "GenericError");
    EXPECT_EQ(messages[6]["error"]["class"], "GenericError");
    EXPECT_EQ(backend.run_state(), RunState::paused);
}

// The Python client sends and reads exactly as qmp-shell does: a greeting
// line, qmp_capabilities, then commands with ids, setting events aside.
constexpr std::string_view kPythonClient = R"PY(
import json, socket, sys, time

s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
f = s.makefile("rw", newline="")

def read():
    line = f.readline()
    assert line.endswith("\r\n"), repr(line)
    return json.loads(line)

def command(name, args=None, id=None):
    msg = {"execute": name}
    if args is not None:
        msg["arguments"] = args
    if id is not None:
        msg["id"] = id
    f.write(json.dumps(msg) + "\n")
    f.flush()
    while True:
        reply = read()
        if "event" not in reply:
            return reply

greeting = read()
assert "QMP" in greeting and greeting["QMP"]["capabilities"] == [], greeting
assert command("query-status")["error"]["class"] == "CommandNotFound"
assert command("qmp_capabilities") == {"return": {}}
reply = command("query-status", id="py-1")
assert reply == {"return": {"running": True, "status": "running",
                            "mshare-engine": "kvm",
                            "mshare-engine-reason": "engine 'kvm' requested in the config"},
                 "id": "py-1"}, reply
reply = command("mshare-query-page-tables", {"pid": 60}, id=7)
assert reply["id"] == 7 and reply["return"]["comm"] == "ptbench", reply

# Two commands in one write, then one command in two writes.
s.sendall(b'{"execute": "query-version", "id": "a"}{"execute": "mshare-query-engine", "id": "b"}')
assert read()["id"] == "a"
assert read()["return"]["vcpus"] == 2
s.sendall(b'{"execute": "query-')
time.sleep(0.05)
s.sendall(b'commands", "id": "c"}\n')
names = [c["name"] for c in read()["return"]]
assert "mshare-query-accounting" in names, names
print("ok")
)PY";

TEST_F(ExternalClients, PythonStandardLibraryLikeQmpShell) {
    if (!have_program("python3", dir.path())) {
        GTEST_SKIP() << "python3 is not installed";
    }
    const auto script = dir.write("client.py", kPythonClient);
    const auto result = test::run_process(
        "python3 '" + script.string() + "' '" + socket.string() + "'", dir.path());
    EXPECT_EQ(result.status, 0) << result.err;
    EXPECT_EQ(result.out, "ok\n") << result.err;
}

}  // namespace
}  // namespace mvmm::control
