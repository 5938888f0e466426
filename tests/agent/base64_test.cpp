#include <gtest/gtest.h>

#include <mvmm/agent/base64.hpp>

namespace mvmm::agent {
namespace {

TEST(Base64, EncodesTheRfc4648Vectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foob"), "Zm9vYg==");
    EXPECT_EQ(base64_encode("fooba"), "Zm9vYmE=");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64, RoundTripsEveryByteValue) {
    std::string all;
    for (int i = 0; i < 256; ++i) {
        all += static_cast<char>(i);
    }
    for (std::size_t len = 0; len <= all.size(); len += 37) {
        const auto part = all.substr(0, len);
        EXPECT_EQ(base64_decode(base64_encode(part)), part) << len;
    }
}

TEST(Base64, DecodeAcceptsUnpaddedAndWhitespaceAndRejectsJunk) {
    EXPECT_EQ(base64_decode("Zm9vYg"), "foob");
    EXPECT_EQ(base64_decode("Zm9v\nYmFy\n"), "foobar");
    EXPECT_EQ(base64_decode("Zm9v!"), std::nullopt);
    EXPECT_EQ(base64_decode("Zg==Zg=="), std::nullopt);
    EXPECT_EQ(base64_decode("Z"), std::nullopt);
    EXPECT_EQ(base64_decode("Zg="), std::nullopt);
}

}  // namespace
}  // namespace mvmm::agent
