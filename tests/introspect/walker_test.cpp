// The page-table walker on synthetic guest memory: paging modes, huge pages,
// PTI pairs, sharing, and everything a hostile guest can write.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mvmm/common/error.hpp>
#include <mvmm/common/mapping.hpp>
#include <mvmm/common/unique_fd.hpp>
#include <mvmm/walker/root_scan.hpp>
#include <mvmm/walker/synthetic.hpp>
#include <mvmm/walker/walker.hpp>

namespace mvmm::walker {
namespace {

constexpr std::uint64_t kRegion = 0x0000'7f00'0000'0000ULL;
constexpr std::uint64_t kAllOnes = ~std::uint64_t{0};

std::uint64_t count(const WalkResult& r, AnomalyKind kind) {
    return r.anomaly_counts()[static_cast<std::size_t>(kind)];
}

WalkOptions options(PagingMode mode = PagingMode::four_level, bool pti = false) {
    WalkOptions o;
    o.mode = mode;
    o.pti = pti;
    return o;
}

TEST(Walker, FourLevelUnsharedProcessesOwnAllTheirTables) {
    const ProcessImageSpec spec{4, 8 * kMiB, false, false, kRegion};
    SyntheticMemory mem(ram_needed(spec));
    const auto image = build_process_image(mem, spec);
    const auto r = walk(mem.view(), image.process_roots, options());

    EXPECT_EQ(r.anomaly_total(), 0U);
    ASSERT_EQ(r.roots().size(), 4U);
    for (const auto& root : r.roots()) {
        EXPECT_EQ(root.own_tables[4], 1U);
        EXPECT_EQ(root.own_tables[3], 1U);
        EXPECT_EQ(root.own_tables[2], 1U);
        EXPECT_EQ(root.own_tables[1], 4U);  // 8 MiB / 2 MiB per PTE table
        EXPECT_EQ(root.shared_tables, PerLevel{});
        EXPECT_EQ(root.leaves[1], 2048U);
        EXPECT_EQ(root.mapped_bytes, 8 * kMiB);
    }
    EXPECT_EQ(r.unique_tables()[1], 16U);
    EXPECT_EQ(r.unique_tables()[4], 4U);
    EXPECT_EQ(r.tables_per_root_sum(), r.unique_tables());
    // Each PTE table was read once: 4 roots x (256 top slots + 512 + 512 + 4*512).
    EXPECT_EQ(r.entries_read(), 4U * (256 + 512 + 512 + 4 * 512));
}

TEST(Walker, SharedPudIsWalkedOnceAndReachedFromEveryRoot) {
    const ProcessImageSpec spec{4, 8 * kMiB, true, false, kRegion};
    SyntheticMemory mem(ram_needed(spec));
    const auto image = build_process_image(mem, spec);
    auto roots = image.process_roots;
    roots.push_back(image.host_root);
    const auto r = walk(mem.view(), roots, options());

    EXPECT_EQ(r.anomaly_total(), 0U);
    const auto pud = r.find(image.region_pud);
    ASSERT_TRUE(pud.has_value());
    EXPECT_EQ(r.nodes()[*pud].level, 3);
    EXPECT_TRUE(r.shared(*pud));
    const auto from = r.roots_of(*pud);
    EXPECT_EQ(std::vector<std::uint32_t>(from.begin(), from.end()),
              (std::vector<std::uint32_t>{0, 1, 2, 3, 4}));
    const auto refs = r.referrers(*pud);
    ASSERT_EQ(refs.size(), 5U);
    for (const auto& ref : refs) {
        EXPECT_TRUE(r.nodes()[ref.parent].root);
        EXPECT_EQ(ref.index, table_index(kRegion, 4));
    }
    for (std::size_t i = 0; i < 4; ++i) {
        const auto& root = r.roots()[i];
        EXPECT_EQ(root.own_tables[4], 1U);
        EXPECT_EQ(root.own_tables[3] + root.own_tables[2] + root.own_tables[1], 0U);
        EXPECT_EQ(root.shared_tables[3], 1U);
        EXPECT_EQ(root.shared_tables[2], 1U);
        EXPECT_EQ(root.shared_tables[1], 4U);
        EXPECT_EQ(root.mapped_bytes, 8 * kMiB);
    }
    // One copy of the region's tables, read once.
    EXPECT_EQ(r.unique_tables()[1], 4U);
    EXPECT_EQ(r.unique_tables()[3], 1U);
    EXPECT_EQ(r.unique_tables()[4], 5U);
    EXPECT_EQ(r.tables_per_root_sum()[1], 20U);
    EXPECT_EQ(r.entries_read(), 5U * 256 + 512 + 512 + 4 * 512);

    const auto sub = r.below(*pud);
    EXPECT_EQ(sub.tables[2], 1U);
    EXPECT_EQ(sub.tables[1], 4U);
    EXPECT_EQ(sub.leaves[1], 2048U);
    EXPECT_EQ(sub.mapped_bytes, 8 * kMiB);
}

TEST(Walker, FiveLevelPagingSharesThePudBelowPerProcessP4ds) {
    const ProcessImageSpec spec{3, 4 * kMiB, true, false, kRegion};
    SyntheticMemory mem(ram_needed(spec) + kMiB, PagingMode::five_level);
    const auto image = build_process_image(mem, spec);
    auto roots = image.process_roots;
    roots.push_back(image.host_root);
    const auto r = walk(mem.view(), roots, options(PagingMode::five_level));

    EXPECT_EQ(r.anomaly_total(), 0U);
    const auto pud = r.find(image.region_pud);
    ASSERT_TRUE(pud.has_value());
    EXPECT_EQ(r.roots_of(*pud).size(), 4U);
    for (const auto& ref : r.referrers(*pud)) {
        EXPECT_EQ(r.nodes()[ref.parent].level, 4);  // a p4d, not the root
        EXPECT_FALSE(r.nodes()[ref.parent].root);
    }
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(r.roots()[i].own_tables[5], 1U);
        EXPECT_EQ(r.roots()[i].own_tables[4], 1U);
        EXPECT_EQ(r.roots()[i].shared_tables[3], 1U);
        EXPECT_EQ(r.roots()[i].mapped_bytes, 4 * kMiB);
    }
    EXPECT_EQ(level_name(5, PagingMode::five_level), "pgd");
    EXPECT_EQ(level_name(4, PagingMode::five_level), "p4d");
    EXPECT_EQ(level_name(4, PagingMode::four_level), "pgd");
    EXPECT_EQ(level_name(3, PagingMode::four_level), "pud");
}

TEST(Walker, HugePagesAtEveryLevelAreLeaves) {
    SyntheticMemory mem(3 * kGiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.map(root, 0x4000'0000ULL, 1 * kGiB, 1 * kGiB, leaf_bytes(3));    // 1 GiB leaf
    mem.map(root, 0x8000'0000ULL, 64 * kMiB, 4 * kMiB, leaf_bytes(2));   // two 2 MiB leaves
    mem.map(root, 0x9000'0000ULL, 32 * kMiB, 12 * 4096, leaf_bytes(1));  // twelve 4 KiB leaves
    const std::uint64_t roots[] = {root};
    const auto r = walk(mem.view(), roots, options());

    EXPECT_EQ(r.anomaly_total(), 0U);
    const auto& s = r.roots()[0];
    EXPECT_EQ(s.leaves[3], 1U);
    EXPECT_EQ(s.leaves[2], 2U);
    EXPECT_EQ(s.leaves[1], 12U);
    EXPECT_EQ(s.mapped_bytes, 1 * kGiB + 4 * kMiB + 12 * 4096);
    EXPECT_EQ(s.own_tables[3], 1U);  // one PUD holds the 1 GiB leaf and the PMD pointers
    EXPECT_EQ(s.own_tables[2], 1U);
    EXPECT_EQ(s.own_tables[1], 1U);

    // PS in a top-level entry is reserved: reported, not followed.
    mem.set_entry(root, 5, (2 * kGiB) | kTableFlags | entry::kPageSize);
    const auto r2 = walk(mem.view(), roots, options());
    EXPECT_EQ(count(r2, AnomalyKind::reserved_page_size), 1U);
    EXPECT_EQ(r2.roots()[0].mapped_bytes, s.mapped_bytes);
}

TEST(Walker, PsInALevelFiveEntryIsReserved) {
    SyntheticMemory mem(64 * kMiB, PagingMode::five_level);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.set_entry(root, 1, kTableFlags | entry::kPageSize);
    const std::uint64_t roots[] = {root};
    const auto r = walk(mem.view(), roots, options(PagingMode::five_level));
    EXPECT_EQ(count(r, AnomalyKind::reserved_page_size), 1U);
    ASSERT_EQ(r.anomalies().size(), 1U);
    EXPECT_EQ(r.anomalies()[0].level, 5);
    EXPECT_EQ(r.anomalies()[0].index, 1);
    EXPECT_EQ(r.anomalies()[0].table, root);
}

TEST(Walker, FlagBitsIncludingNxAndProtectionKeysAreMaskedOff) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    const std::uint64_t noise = entry::kNoExecute | entry::kProtectionKeyMask | (0x7fULL << 52);
    mem.map(root, 0x40'0000, 8 * kMiB, 16 * 4096, 4096, noise);
    // A table pointer with NX and software bits (as PTI's kernel copy has).
    const auto pud = mem.get_entry(root, 0);
    mem.set_entry(root, 0, pud | entry::kNoExecute | (1ULL << 52));
    const std::uint64_t roots[] = {root};
    const auto r = walk(mem.view(), roots, options());
    EXPECT_EQ(r.anomaly_total(), 0U);
    EXPECT_EQ(r.roots()[0].leaves[1], 16U);
    const auto t = translate(mem.view(), root, 0x40'0000 + 5 * 4096 + 123, PagingMode::four_level);
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->phys, 8 * kMiB + 5 * 4096 + 123);
}

TEST(Walker, PtiPairsCountTwoPagesAndCheckTheUserCopy) {
    const ProcessImageSpec spec{2, 4 * kMiB, false, true, kRegion};
    SyntheticMemory mem(ram_needed(spec));
    const auto image = build_process_image(mem, spec);
    const auto r = walk(mem.view(), image.process_roots, options(PagingMode::four_level, true));
    EXPECT_EQ(r.anomaly_total(), 0U);
    for (const auto& root : r.roots()) {
        EXPECT_EQ(root.phys % 8192, 0U);
        EXPECT_EQ(root.own_tables[4], 2U);
        EXPECT_EQ(root.mapped_bytes, 4 * kMiB);
    }
    // The user copy is part of the root: find() knows both pages.
    EXPECT_EQ(r.find(image.process_roots[0] + 4096), r.roots()[0].node);

    // A user copy that points elsewhere is reported and walked as well.
    const auto victim = image.process_roots[1];
    const auto other = mem.alloc();
    mem.map(other, 0, 16 * kMiB, 4096);  // makes a PUD/PMD/PTE chain under `other`
    const auto other_pud = mem.get_entry(other, 0);
    mem.set_entry(victim + 4096, 3, other_pud);
    const auto r2 = walk(mem.view(), image.process_roots, options(PagingMode::four_level, true));
    EXPECT_EQ(count(r2, AnomalyKind::pti_copy_mismatch), 1U);
    EXPECT_EQ(r2.roots()[1].leaves[1], 1024U + 1U);
    bool saw_user_index = false;
    for (const auto& ref : r2.referrers(*r2.find(other_pud))) {
        saw_user_index = saw_user_index || ref.index == 512 + 3;
    }
    EXPECT_TRUE(saw_user_index);
}

TEST(Walker, LoopsAndSelfReferencesAreReportedNotFollowed) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.map(root, 0, 16 * kMiB, 4096);
    const auto pud = mem.get_entry(root, 0) & entry::kAddressMask;
    const auto pmd = mem.get_entry(pud, 0) & entry::kAddressMask;
    mem.set_entry(root, 7, root | kTableFlags);  // a recursive (self) map
    mem.set_entry(pud, 9, pud | kTableFlags);    // self-reference below the root
    mem.set_entry(pmd, 3, root | kTableFlags);   // back up to the root: a cycle
    mem.set_entry(pmd, 4, pud | kTableFlags);    // back up to the PUD: a cycle
    const std::uint64_t roots[] = {root};
    const auto r = walk(mem.view(), roots, options());
    EXPECT_EQ(count(r, AnomalyKind::self_reference), 2U);
    EXPECT_EQ(count(r, AnomalyKind::cycle), 2U);
    EXPECT_EQ(r.roots()[0].leaves[1], 1U);
    EXPECT_EQ(r.unique_tables()[1], 1U);
}

TEST(Walker, PageUsedAsTablesAtTwoLevelsIsALevelConflict) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto a = mem.make_process_root(kernel);
    const auto b = mem.make_process_root(kernel);
    mem.map(a, 0, 16 * kMiB, 4096);
    mem.map(b, 0, 20 * kMiB, 4096);
    const auto a_pud = mem.get_entry(a, 0) & entry::kAddressMask;
    const auto b_pud = mem.get_entry(b, 0) & entry::kAddressMask;
    mem.set_entry(b_pud, 1, a_pud | kTableFlags);  // a PUD used as a PMD
    mem.set_entry(b_pud, 2, a | kTableFlags);      // another root used as a PMD
    const std::uint64_t roots[] = {a, b};
    const auto r = walk(mem.view(), roots, options());
    EXPECT_EQ(count(r, AnomalyKind::level_conflict), 2U);
    EXPECT_FALSE(r.shared(*r.find(a_pud)));
}

TEST(Walker, FramesPastRamAreAnomalies) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.map(root, 0, 16 * kMiB, 2 * 4096);
    const auto pud = mem.get_entry(root, 0) & entry::kAddressMask;
    const auto pmd = mem.get_entry(pud, 0) & entry::kAddressMask;
    const auto pte = mem.get_entry(pmd, 0) & entry::kAddressMask;
    mem.set_entry(root, 1, (1ULL << 40) | kTableFlags);  // table past RAM
    mem.set_entry(pud, 1, (3 * kGiB) | kTableFlags);     // table in the 32-bit hole
    mem.set_entry(pte, 2, (512 * kGiB) | kTableFlags);   // 4 KiB page past RAM
    mem.set_entry(pmd, 1, (1ULL << 45) | kTableFlags | entry::kPageSize);  // 2 MiB past RAM
    const std::uint64_t roots[] = {root, 1ULL << 42};
    const auto r = walk(mem.view(), roots, options());
    EXPECT_EQ(count(r, AnomalyKind::table_outside_ram), 2U);
    EXPECT_EQ(count(r, AnomalyKind::leaf_outside_ram), 2U);
    EXPECT_EQ(count(r, AnomalyKind::root_outside_ram), 1U);
    EXPECT_EQ(r.roots()[1].node, kNoNode);
    EXPECT_EQ(r.roots()[0].leaves[1], 3U);
    EXPECT_EQ(r.nodes()[*r.find(pte)].leaves_outside_ram, 1U);
}

TEST(Walker, AllOnesEntriesEverywhereAreSafe) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.map(root, 0, 16 * kMiB, 4096);
    const auto pud = mem.get_entry(root, 0) & entry::kAddressMask;
    const auto pmd = mem.get_entry(pud, 0) & entry::kAddressMask;
    const auto pte = mem.get_entry(pmd, 0) & entry::kAddressMask;
    for (unsigned i = 1; i < 512; ++i) {
        if (i < 256) {
            mem.set_entry(root, i, kAllOnes);
        }
        mem.set_entry(pud, i, kAllOnes);
        mem.set_entry(pmd, i, kAllOnes);
        mem.set_entry(pte, i, kAllOnes);
    }
    const std::uint64_t roots[] = {root};
    const auto r = walk(mem.view(), roots, options());
    // Top level: PS is reserved. PUD and PMD: huge leaves past RAM. PTE: pages past RAM.
    EXPECT_EQ(count(r, AnomalyKind::reserved_page_size), 255U);
    EXPECT_EQ(count(r, AnomalyKind::leaf_outside_ram), 3U * 511U);
    EXPECT_EQ(r.anomalies().size(), WalkOptions{}.max_recorded_anomalies);
    EXPECT_EQ(r.unique_tables()[1], 1U);
}

TEST(Walker, DenseFanInIsWalkedOncePerTable) {
    // Every entry at every level points at the same next table: without
    // memoization that is 256 * 512^3 leaves.
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    const auto pud = mem.alloc();
    const auto pmd = mem.alloc();
    const auto pte = mem.alloc();
    for (unsigned i = 0; i < 512; ++i) {
        if (i < 256) {
            mem.set_entry(root, i, pud | kTableFlags);
        }
        mem.set_entry(pud, i, pmd | kTableFlags);
        mem.set_entry(pmd, i, pte | kTableFlags);
        mem.set_entry(pte, i, (8 * kMiB) | kTableFlags);
    }
    const std::uint64_t roots[] = {root};
    const auto r = walk(mem.view(), roots, options());
    EXPECT_EQ(r.anomaly_total(), 0U);
    EXPECT_EQ(r.entries_read(), 256U + 3 * 512);
    EXPECT_EQ(r.referrers(*r.find(pte)).size(), 512U);
    EXPECT_EQ(r.roots()[0].leaves[1], 512U);  // unique leaf entries, not paths
    EXPECT_FALSE(r.shared(*r.find(pte)));
}

TEST(Walker, ReferenceLimitBoundsMemory) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    const auto pud = mem.alloc();
    for (unsigned i = 0; i < 256; ++i) {
        mem.set_entry(root, i, pud | kTableFlags);
    }
    auto o = options();
    o.max_references = 10;
    const std::uint64_t roots[] = {root};
    const auto r = walk(mem.view(), roots, o);
    EXPECT_TRUE(r.truncated());
    EXPECT_EQ(count(r, AnomalyKind::reference_limit), 246U);
    EXPECT_EQ(r.referrers(*r.find(pud)).size(), 10U);
}

TEST(Walker, OnlyTheChosenTopSlotsAreWalked) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.map(root, 0, 16 * kMiB, 4096);
    const std::uint64_t roots[] = {kernel, root};
    const auto user = walk(mem.view(), roots, options());
    EXPECT_EQ(user.roots()[0].mapped_bytes, 0U);  // the kernel root has no user half
    EXPECT_EQ(user.roots()[1].mapped_bytes, 4096U);

    auto all = options();
    all.top_slots.set();
    const auto r = walk(mem.view(), roots, all);
    // The kernel half is shared by both roots.
    EXPECT_GT(r.roots()[0].shared_tables[3], 0U);
    EXPECT_EQ(r.roots()[0].shared_tables, r.roots()[1].shared_tables);
    EXPECT_EQ(r.roots()[1].own_tables[1], 1U);
}

TEST(Walker, DuplicateRootsShareOneNode) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.map(root, 0, 16 * kMiB, 4096);
    const std::uint64_t roots[] = {root, root | 0x123};  // PCID bits are ignored
    const auto r = walk(mem.view(), roots, options());
    EXPECT_EQ(r.roots()[0].node, r.roots()[1].node);
    EXPECT_EQ(r.roots()[1].mapped_bytes, 4096U);
    EXPECT_EQ(r.unique_tables()[4], 1U);
}

TEST(Walker, LeafBitmapMarksMappedFrames) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.map(root, 0, 16 * kMiB, 4096);
    mem.map(root, 0x20'0000'0000ULL, 32 * kMiB, 2 * kMiB, leaf_bytes(2));
    auto o = options();
    o.leaf_bitmap = true;
    const std::uint64_t roots[] = {root};
    const auto r = walk(mem.view(), roots, o);
    EXPECT_TRUE(r.leaf_maps(16 * kMiB + 100));
    EXPECT_FALSE(r.leaf_maps(16 * kMiB + 4096));
    EXPECT_TRUE(r.leaf_maps(32 * kMiB + 511 * 4096));
    EXPECT_FALSE(r.leaf_maps(34 * kMiB));
    EXPECT_FALSE(r.leaf_maps(root));
}

TEST(Translate, FollowsEveryLeafSize) {
    SyntheticMemory mem(3 * kGiB);
    const auto kernel = mem.make_kernel_root();
    const auto root = mem.make_process_root(kernel);
    mem.map(root, 0x4000'0000ULL, 1 * kGiB, 1 * kGiB, leaf_bytes(3));
    mem.map(root, 0x8000'0000ULL, 64 * kMiB, 2 * kMiB, leaf_bytes(2));
    mem.map(root, 0x9000'0000ULL, 32 * kMiB, 4096);
    const auto m = PagingMode::four_level;
    EXPECT_EQ(translate(mem.view(), root, 0x4000'0000ULL + 0x12345678, m)->phys,
              1 * kGiB + 0x12345678);
    EXPECT_EQ(translate(mem.view(), root, 0x4000'0000ULL, m)->page_bytes, 1 * kGiB);
    EXPECT_EQ(translate(mem.view(), root, 0x8000'0000ULL + 0x1234, m)->phys, 64 * kMiB + 0x1234);
    EXPECT_EQ(translate(mem.view(), root, 0x9000'0000ULL + 0x10, m)->phys, 32 * kMiB + 0x10);
    EXPECT_FALSE(translate(mem.view(), root, 0x9000'1000ULL, m).has_value());
    EXPECT_FALSE(translate(mem.view(), root, 0x0000'8000'0000'0000ULL, m).has_value());
    // The kernel image through the kernel half.
    EXPECT_EQ(translate(mem.view(), root, 0xffff'ffff'8000'1234ULL, m)->phys, 0x1234U);
    EXPECT_EQ(translate(mem.view(), kernel, 0xffff'8880'0123'4567ULL, m)->phys, 0x0123'4567U);
    EXPECT_FALSE(translate(mem.view(), 1ULL << 45, 0x1000, m).has_value());
}

TEST(RootScan, FindsEveryTableWithTheKernelHalf) {
    const ProcessImageSpec spec{5, 2 * kMiB, true, false, kRegion};
    SyntheticMemory mem(ram_needed(spec));
    const auto image = build_process_image(mem, spec);
    // A page that copies only part of the kernel half is not a root.
    const auto decoy = mem.alloc();
    mem.set_entry(decoy, 511, mem.get_entry(image.kernel_root, 511));

    const auto scan = scan_for_roots(mem.view(), image.process_roots[2] | 0x5, {});
    std::vector<std::uint64_t> expected = image.process_roots;
    expected.push_back(image.host_root);
    expected.push_back(image.kernel_root);
    std::sort(expected.begin(), expected.end());
    EXPECT_EQ(scan.roots, expected);
    EXPECT_FALSE(scan.truncated);
    EXPECT_GE(scan.reference_kernel_entries, 6U);

    RootScanOptions limited;
    limited.max_roots = 2;
    const auto few = scan_for_roots(mem.view(), image.kernel_root, limited);
    EXPECT_TRUE(few.truncated);
    EXPECT_EQ(few.roots.size(), 2U);

    EXPECT_THROW((void)scan_for_roots(mem.view(), decoy + 4096, {}), Error);
    EXPECT_THROW((void)scan_for_roots(mem.view(), 1ULL << 44, {}), Error);
}

TEST(RootScan, PtiRootsAreEightKiBPairs) {
    const ProcessImageSpec spec{3, 2 * kMiB, false, true, kRegion};
    SyntheticMemory mem(ram_needed(spec));
    const auto image = build_process_image(mem, spec);
    RootScanOptions o;
    o.pti = true;
    const auto scan = scan_for_roots(mem.view(), image.process_roots[0], o);
    // The kernel root is a plain 4 KiB page here and may or may not be 8 KiB
    // aligned; the process roots must all be found.
    for (const auto root : image.process_roots) {
        EXPECT_NE(std::find(scan.roots.begin(), scan.roots.end(), root), scan.roots.end());
    }
    for (const auto root : scan.roots) {
        EXPECT_EQ(root % 8192, 0U);
    }
}

TEST(RootScan, PerMmKernelSlotsAreTheEmptyOnes) {
    SyntheticMemory mem(64 * kMiB);
    const auto kernel = mem.make_kernel_root();
    const auto slots = per_mm_kernel_slots(mem.view(), kernel);
    EXPECT_EQ(std::count(slots.begin(), slots.end(), 511U), 0);
    EXPECT_EQ(std::count(slots.begin(), slots.end(), 273U), 0);
    EXPECT_EQ(std::count(slots.begin(), slots.end(), 272U), 1);
    EXPECT_EQ(slots.size(), 256U - 6U);
}

// Guest RAM in a memfd, as the KVM engine has it (QEMU's RAM file on tmpfs is
// the same): a live scan must not make the host allocate RAM the guest never
// touched, and still finds every table in RAM the guest did touch.
TEST(RootScan, ResidentOnlyLeavesUntouchedRamUnallocated) {
    constexpr std::uint64_t kRam = 8 * kMiB;
    const UniqueFd fd(::memfd_create("scan-test", MFD_CLOEXEC));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), kRam), 0);
    void* addr = ::mmap(nullptr, kRam, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
    ASSERT_NE(addr, MAP_FAILED);
    auto* bytes = static_cast<std::byte*>(addr);
    // A kernel table at 1 MiB and a copy of its kernel half at 5 MiB + 12 KiB.
    const auto put = [&](std::uint64_t table, unsigned index, std::uint64_t value) {
        std::memcpy(bytes + table + index * 8, &value, 8);
    };
    put(1 * kMiB, 511, 0x20'0000 | kTableFlags);
    put(1 * kMiB, 300, 0x30'0000 | kTableFlags);
    put(5 * kMiB + 0x3000, 511, 0x20'0000 | kTableFlags);
    put(5 * kMiB + 0x3000, 300, 0x30'0000 | kTableFlags);
    const auto resident_pages = [&] {
        std::vector<unsigned char> v(kRam / kTableBytes);
        EXPECT_EQ(::mincore(addr, kRam, v.data()), 0);
        return std::count_if(v.begin(), v.end(), [](unsigned char c) { return (c & 1) != 0; });
    };
    ASSERT_EQ(resident_pages(), 2);

    const PhysView view(std::span<const std::byte>(bytes, kRam), RamLayout({{0, kRam, 0}}));
    RootScanOptions o;
    o.resident_only = true;
    const auto scan = scan_for_roots(view, 1 * kMiB, o);
    EXPECT_EQ(scan.roots, (std::vector<std::uint64_t>{1 * kMiB, 5 * kMiB + 0x3000}));
    EXPECT_EQ(scan.pages_scanned, 2U);
    EXPECT_EQ(scan.pages_skipped, kRam / kTableBytes - 2);
    EXPECT_EQ(resident_pages(), 2) << "the scan made the host allocate guest RAM";

    // Without it every page is read, and reading a hole of a shared memory
    // file makes the host allocate it.
    const auto full = scan_for_roots(view, 1 * kMiB, {});
    EXPECT_EQ(full.roots, scan.roots);
    EXPECT_EQ(full.pages_scanned, kRam / kTableBytes);
    EXPECT_EQ(full.pages_skipped, 0U);
    EXPECT_EQ(resident_pages(), static_cast<long>(kRam / kTableBytes));
    ::munmap(addr, kRam);
}

}  // namespace
}  // namespace mvmm::walker
