// The UART-to-UNIX-socket bridge of the agent channel.
#include <chrono>
#include <cstring>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/devices/serial_socket.hpp>

#include "support/temp_dir.hpp"

namespace mvmm {
namespace {

using namespace std::chrono_literals;

UniqueFd connect_to(const std::filesystem::path& path) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ADD_FAILURE() << "connect: " << std::strerror(errno);
    }
    return fd;
}

// Reads until `n` bytes arrived, the peer closed, or 5 s passed.
std::string read_some(int fd, std::size_t n) {
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) {
            continue;
        }
        char buf[256];
        const auto got = ::read(fd, buf, sizeof buf);
        if (got <= 0) {
            break;
        }
        out.append(buf, static_cast<std::size_t>(got));
    }
    return out;
}

class Bridge : public ::testing::Test {
  protected:
    std::uint8_t in(unsigned reg) {
        std::uint8_t v = 0;
        uart_.read(reg, std::span(&v, 1));
        return v;
    }
    // What the guest reads from the UART within 5 s, up to n bytes.
    std::string guest_reads(std::size_t n) {
        std::string out;
        const auto deadline = std::chrono::steady_clock::now() + 5s;
        while (out.size() < n && std::chrono::steady_clock::now() < deadline) {
            if ((in(uart::kLsr)&uart::kLsrDr) != 0) {
                out += static_cast<char>(in(uart::kRbrThr));
            } else {
                std::this_thread::sleep_for(1ms);
            }
        }
        return out;
    }
    void guest_writes(const std::string& s) {
        for (char c : s) {
            const auto b = static_cast<std::uint8_t>(c);
            uart_.write(uart::kRbrThr, std::span(&b, 1));
        }
    }

    test::TempDir dir_;
    std::filesystem::path path_ = dir_.path() / "agent.sock";
    // The UART outlives the bridge, whose thread uses it.
    Serial8250 uart_{
        "com2", {}, [this](std::span<const std::uint8_t> b) { bridge_.guest_output(b); }, 8};
    SerialSocketBridge bridge_{path_};
};

TEST_F(Bridge, BytesFlowBothWays) {
    bridge_.start(uart_);
    auto client = connect_to(path_);
    // Host -> guest, more than the UART's 8-byte buffer: flow control holds the rest.
    const std::string request = "{\"cmd\":\"ping\",\"id\":42}\n";
    ASSERT_EQ(::write(client.get(), request.data(), request.size()),
              static_cast<ssize_t>(request.size()));
    EXPECT_EQ(guest_reads(request.size()), request);
    // Guest -> host.
    guest_writes("pong 42\n");
    EXPECT_EQ(read_some(client.get(), 8), "pong 42\n");
    EXPECT_TRUE(bridge_.client_connected());
}

TEST_F(Bridge, KeepsGuestOutputUntilAClientConnects) {
    bridge_.start(uart_);
    guest_writes("hello before connect\n");
    auto client = connect_to(path_);
    EXPECT_EQ(read_some(client.get(), 21), "hello before connect\n");
}

// A client that hangs up and connects again at once (the agent service's
// probe does that while it waits for the agent) is served, even when the
// bridge sees the new connection before the old one's hang-up.
TEST_F(Bridge, AClientThatReconnectsAtOnceIsServed) {
    bridge_.start(uart_);
    auto client = connect_to(path_);
    for (int i = 0; i < 50; ++i) {
        const std::string mark = std::to_string(i % 10);
        guest_writes(mark);
        ASSERT_EQ(read_some(client.get(), 1), mark) << "connection " << i << " was refused";
        client.reset();
        client = connect_to(path_);
    }
}

TEST_F(Bridge, RefusesASecondClientAndAcceptsANewOneLater) {
    bridge_.start(uart_);
    auto first = connect_to(path_);
    guest_writes("1");
    EXPECT_EQ(read_some(first.get(), 1), "1");
    auto second = connect_to(path_);
    EXPECT_EQ(read_some(second.get(), 1), "");  // closed at once
    first.reset();
    // Once the first is gone a new client is served.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    while (bridge_.client_connected() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(1ms);
    }
    auto third = connect_to(path_);
    guest_writes("3");
    EXPECT_EQ(read_some(third.get(), 1), "3");
}

TEST(SerialSocketBridge, ReplacesAStaleSocketAndRemovesItAtTheEnd) {
    test::TempDir dir;
    const auto path = dir.path() / "a.sock";
    { SerialSocketBridge first(path); }
    EXPECT_FALSE(std::filesystem::exists(path));
    {
        // A socket file left behind by a process that died.
        UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM, 0));
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
        ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    }
    EXPECT_TRUE(std::filesystem::exists(path));
    EXPECT_NO_THROW(SerialSocketBridge again(path));
}

TEST(SerialSocketBridge, ErrorsNameThePath) {
    test::TempDir dir;
    const auto file = dir.write("not-a-socket", "x");
    try {
        SerialSocketBridge b(file);
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_THAT(e.what(), ::testing::HasSubstr("not-a-socket': exists and is not a socket"));
    }
    EXPECT_THROW(SerialSocketBridge(dir.path() / std::string(120, 'x')), Error);
    EXPECT_THROW(SerialSocketBridge(dir.path() / "missing-dir" / "a.sock"), Error);
}

}  // namespace
}  // namespace mvmm
