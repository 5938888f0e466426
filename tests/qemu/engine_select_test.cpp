#include <gtest/gtest.h>

#include <mvmm/common/error.hpp>
#include <mvmm/engine_select/decision.hpp>

namespace mvmm {
namespace {

const KvmHostCheck kWorks{.kvm_usable = true,
                          .user_space_works = true,
                          .reason = "KVM runs guest user space here: the probe completed"};
const KvmHostCheck kNoUserSpace{
    .kvm_usable = true,
    .user_space_works = false,
    .reason = "KVM cannot run guest user space here: the probe faulted"};
const KvmHostCheck kNoKvm{.kvm_usable = false,
                          .user_space_works = false,
                          .reason = "KVM is not usable here: /dev/kvm: No such file or directory"};

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

TEST(EngineDecision, AutoPicksKvmOnlyWhereUserSpaceWorks) {
    auto d = decide_engine(EngineChoice::automatic, kWorks, "tcg");
    EXPECT_EQ(d.engine, EngineChoice::kvm);
    EXPECT_TRUE(contains(d.reason, "KVM runs guest user space here: the probe completed"))
        << d.reason;

    d = decide_engine(EngineChoice::automatic, kNoUserSpace, "tcg");
    EXPECT_EQ(d.engine, EngineChoice::qemu);
    EXPECT_TRUE(contains(d.reason, "KVM cannot run guest user space here: the probe faulted"))
        << d.reason;
    EXPECT_TRUE(contains(d.reason, "accel tcg")) << d.reason;

    d = decide_engine(EngineChoice::automatic, kNoKvm, "tcg");
    EXPECT_EQ(d.engine, EngineChoice::qemu);
    EXPECT_TRUE(contains(d.reason, "/dev/kvm")) << d.reason;

    d = decide_engine(EngineChoice::automatic, std::nullopt, "tcg");
    EXPECT_EQ(d.engine, EngineChoice::qemu);
    EXPECT_TRUE(contains(d.reason, "no KVM engine")) << d.reason;
}

TEST(EngineDecision, KvmIsRequiredWhenAskedFor) {
    EXPECT_EQ(decide_engine(EngineChoice::kvm, kWorks, "tcg").engine, EngineChoice::kvm);
    for (const auto& host : {std::optional<KvmHostCheck>(kNoUserSpace),
                             std::optional<KvmHostCheck>(kNoKvm), std::optional<KvmHostCheck>()}) {
        try {
            (void)decide_engine(EngineChoice::kvm, host, "tcg");
            FAIL() << "no error";
        } catch (const Error& e) {
            EXPECT_TRUE(contains(e.what(), "engine 'kvm'")) << e.what();
            if (host) {
                EXPECT_TRUE(contains(e.what(), host->reason)) << e.what();
            }
        }
    }
}

TEST(EngineDecision, KvmCanBeForcedWhereItCannotRunUserSpace) {
    const auto d = decide_engine(EngineChoice::kvm, kNoUserSpace, "tcg", true);
    EXPECT_EQ(d.engine, EngineChoice::kvm);
    EXPECT_TRUE(contains(d.reason, "MVMM_KVM_ALLOW_NO_USER_SPACE=1")) << d.reason;
    EXPECT_TRUE(contains(d.reason, kNoUserSpace.reason)) << d.reason;
    // Unforced, the error says how to force it.
    try {
        (void)decide_engine(EngineChoice::kvm, kNoUserSpace, "tcg");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_TRUE(contains(e.what(), "MVMM_KVM_ALLOW_NO_USER_SPACE=1")) << e.what();
    }
    // Forcing does not help where KVM is not usable at all, nor change `auto`.
    EXPECT_THROW((void)decide_engine(EngineChoice::kvm, kNoKvm, "tcg", true), Error);
    EXPECT_EQ(decide_engine(EngineChoice::automatic, kNoUserSpace, "tcg", true).engine,
              EngineChoice::qemu);
}

TEST(EngineDecision, QemuIsAlwaysQemu) {
    for (const auto& host : {std::optional<KvmHostCheck>(kWorks), std::optional<KvmHostCheck>()}) {
        const auto d = decide_engine(EngineChoice::qemu, host, "kvm");
        EXPECT_EQ(d.engine, EngineChoice::qemu);
        EXPECT_TRUE(contains(d.reason, "accel kvm")) << d.reason;
    }
}

}  // namespace
}  // namespace mvmm
