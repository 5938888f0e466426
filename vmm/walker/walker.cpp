#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_set>

#include <mvmm/walker/walker.hpp>

namespace mvmm::walker {

std::string_view anomaly_name(AnomalyKind kind) noexcept {
    switch (kind) {
        case AnomalyKind::table_outside_ram:
            return "table_outside_ram";
        case AnomalyKind::leaf_outside_ram:
            return "leaf_outside_ram";
        case AnomalyKind::self_reference:
            return "self_reference";
        case AnomalyKind::cycle:
            return "cycle";
        case AnomalyKind::level_conflict:
            return "level_conflict";
        case AnomalyKind::reserved_page_size:
            return "reserved_page_size";
        case AnomalyKind::pti_copy_mismatch:
            return "pti_copy_mismatch";
        case AnomalyKind::root_outside_ram:
            return "root_outside_ram";
        case AnomalyKind::reference_limit:
            return "reference_limit";
        case AnomalyKind::root_set_limit:
            return "root_set_limit";
    }
    return "unknown";
}

std::string_view level_name(int level, PagingMode mode) noexcept {
    if (level == top_level(mode)) {
        return "pgd";
    }
    switch (level) {
        case 4:
            return "p4d";
        case 3:
            return "pud";
        case 2:
            return "pmd";
        case 1:
            return "pte";
        default:
            return "?";
    }
}

bool is_canonical(std::uint64_t va, PagingMode mode) noexcept {
    const int bits = mode == PagingMode::five_level ? 57 : 48;
    const auto top = static_cast<std::int64_t>(va) >> (bits - 1);
    return top == 0 || top == -1;
}

namespace {

inline std::uint64_t load_entry(const std::byte* table, std::size_t index) noexcept {
    std::uint64_t value = 0;
    std::memcpy(&value, table + index * 8, 8);
    return value;
}

// Guest-physical ranges of RAM with their page index in the backing, for the
// hot path (checking leaf frames) without going through RamLayout's loop.
class RamIndex {
  public:
    explicit RamIndex(const RamLayout& layout) {
        for (const auto& r : layout.ranges()) {
            ranges_.push_back({r.gpa, r.gpa + r.size, r.offset / kPageSize});
        }
        backing_pages_ = (layout.backing_size() + kPageSize - 1) / kPageSize;
    }
    [[nodiscard]] bool contains(std::uint64_t gpa) const noexcept {
        for (const auto& r : ranges_) {
            if (gpa - r.begin < r.end - r.begin) {
                return true;
            }
        }
        return false;
    }
    // Page index in the backing of the page holding `gpa`, or ~0.
    [[nodiscard]] std::uint64_t page(std::uint64_t gpa) const noexcept {
        for (const auto& r : ranges_) {
            if (gpa - r.begin < r.end - r.begin) {
                return r.first_page + (gpa - r.begin) / kPageSize;
            }
        }
        return ~std::uint64_t{0};
    }
    [[nodiscard]] std::uint64_t backing_pages() const noexcept { return backing_pages_; }
    // Calls fn(first_page, count) for the RAM pages inside [gpa, gpa+len).
    template <typename Fn>
    void for_pages(std::uint64_t gpa, std::uint64_t len, Fn&& fn) const {
        for (const auto& r : ranges_) {
            const auto lo = std::max(gpa, r.begin);
            const auto hi = std::min(gpa + len, r.end);
            if (lo < hi) {
                fn(r.first_page + (lo - r.begin) / kPageSize, (hi - lo) / kPageSize);
            }
        }
    }

  private:
    struct Range {
        std::uint64_t begin;
        std::uint64_t end;
        std::uint64_t first_page;
    };
    std::vector<Range> ranges_;
    std::uint64_t backing_pages_ = 0;
};

}  // namespace

class WalkBuilder {
  public:
    WalkBuilder(const PhysView& memory, const WalkOptions& options)
        : memory_(memory),
          options_(options),
          ram_(memory.layout()),
          page_node_(ram_.backing_pages(), kNoNode) {
        result_.mode_ = options.mode;
        result_.pti_ = options.pti;
        result_.layout_ = memory.layout();
        if (options.leaf_bitmap) {
            result_.leaf_bits_.assign((ram_.backing_pages() + 63) / 64, 0);
        }
    }

    WalkResult run(std::span<const std::uint64_t> roots) {
        add_roots(roots);
        for (std::size_t i = 0; i < result_.roots_.size(); ++i) {
            const auto node = result_.roots_[i].node;
            if (node != kNoNode && first_input_[node] == i) {
                std::array<std::uint32_t, 6> path{};
                walk_table(node, path, 0);
            }
        }
        index_references();
        compute_root_sets();
        summarize();
        return std::move(result_);
    }

  private:
    void anomaly(AnomalyKind kind, std::uint32_t node, std::uint16_t index, std::uint64_t entry) {
        ++result_.anomaly_counts_[static_cast<std::size_t>(kind)];
        if (result_.anomalies_.size() < options_.max_recorded_anomalies) {
            const auto& n = result_.nodes_[node];
            result_.anomalies_.push_back({kind, n.level, index, n.phys, entry});
        }
    }

    std::uint32_t new_node(std::uint64_t phys, int level, std::uint64_t page_index) {
        const auto id = static_cast<std::uint32_t>(result_.nodes_.size());
        TableNode n;
        n.phys = phys;
        n.level = static_cast<std::uint8_t>(level);
        result_.nodes_.push_back(n);
        page_node_[page_index] = id;
        return id;
    }

    void add_roots(std::span<const std::uint64_t> roots) {
        const int top = top_level(options_.mode);
        for (const auto raw : roots) {
            RootSummary summary;
            summary.phys = raw & entry::kAddressMask;
            const auto input = result_.roots_.size();
            const auto page = ram_.page(summary.phys);
            if (page == ~std::uint64_t{0} || memory_.page(summary.phys).empty()) {
                ++result_.anomaly_counts_[static_cast<std::size_t>(AnomalyKind::root_outside_ram)];
                if (result_.anomalies_.size() < options_.max_recorded_anomalies) {
                    result_.anomalies_.push_back({AnomalyKind::root_outside_ram,
                                                  static_cast<std::uint8_t>(top), 0, summary.phys,
                                                  0});
                }
                result_.roots_.push_back(summary);
                continue;
            }
            auto node = page_node_[page];
            if (node == kNoNode) {
                node = new_node(summary.phys, top, page);
                result_.nodes_[node].root = true;
                first_input_.resize(result_.nodes_.size(), kNoNode);
                first_input_[node] = static_cast<std::uint32_t>(input);
                if (options_.pti) {
                    add_pti_user_copy(node);
                }
            } else if (!result_.nodes_[node].root) {
                // Only another root can have made a node before the walk.
                node = kNoNode;
            }
            summary.node = node;
            result_.roots_.push_back(summary);
        }
        first_input_.resize(result_.nodes_.size(), kNoNode);
    }

    void add_pti_user_copy(std::uint32_t node) {
        const auto user = result_.nodes_[node].phys + kTableBytes;
        const auto page = ram_.page(user);
        if (page == ~std::uint64_t{0} || memory_.page(user).empty()) {
            anomaly(AnomalyKind::root_outside_ram, node, 0, 0);
            return;
        }
        if (page_node_[page] == kNoNode) {
            page_node_[page] = node;  // both pages of the pair are the root
            result_.nodes_[node].pages = 2;
        }
    }

    void add_reference(std::uint32_t parent, std::uint32_t child, std::uint16_t index) {
        if (refs_.size() >= options_.max_references) {
            anomaly(AnomalyKind::reference_limit, parent, index, 0);
            result_.truncated_ = true;
            return;
        }
        refs_.push_back({parent, child, index});
    }

    void mark_leaf(std::uint64_t frame, int level) {
        if (result_.leaf_bits_.empty()) {
            return;
        }
        ram_.for_pages(frame, leaf_bytes(level), [&](std::uint64_t first, std::uint64_t count) {
            for (std::uint64_t p = first; p < first + count; ++p) {
                result_.leaf_bits_[p / 64] |= std::uint64_t{1} << (p % 64);
            }
        });
    }

    // A level-1 table: every present entry is a 4 KiB leaf. The hot loop.
    void walk_pte_table(std::uint32_t node, const std::byte* table) {
        std::uint32_t leaves = 0;
        std::uint32_t nonpresent = 0;
        std::uint32_t outside = 0;
        for (std::size_t i = 0; i < kEntriesPerTable; ++i) {
            const auto v = load_entry(table, i);
            if ((v & entry::kPresent) == 0) {
                nonpresent += v != 0 ? 1U : 0U;
                continue;
            }
            ++leaves;
            const auto frame = v & entry::kAddressMask;
            if (!ram_.contains(frame)) {
                ++outside;
                anomaly(AnomalyKind::leaf_outside_ram, node, static_cast<std::uint16_t>(i), v);
            } else if (!result_.leaf_bits_.empty()) {
                mark_leaf(frame, 1);
            }
        }
        auto& n = result_.nodes_[node];
        n.leaves += leaves;
        n.nonpresent_nonzero += nonpresent;
        n.leaves_outside_ram += outside;
        result_.entries_read_ += kEntriesPerTable;
    }

    void walk_table(std::uint32_t node, std::array<std::uint32_t, 6>& path, int depth) {
        const auto phys = result_.nodes_[node].phys;
        const int level = result_.nodes_[node].level;
        const bool is_root = result_.nodes_[node].root;
        const auto bytes = memory_.page(phys);
        if (bytes.empty()) {
            return;  // checked when the node was made; cannot happen
        }
        if (level == 1) {
            walk_pte_table(node, bytes.data());
            return;
        }
        path[static_cast<std::size_t>(depth)] = node;
        const std::byte* user_copy = nullptr;
        if (is_root && result_.nodes_[node].pages == 2) {
            user_copy = memory_.page(phys + kTableBytes).data();
        }
        for (std::size_t i = 0; i < kEntriesPerTable; ++i) {
            if (is_root && !options_.top_slots.test(i)) {
                continue;
            }
            const auto v = load_entry(bytes.data(), i);
            ++result_.entries_read_;
            walk_entry(node, level, static_cast<std::uint16_t>(i), v, path, depth);
            if (user_copy != nullptr && i < 256) {
                const auto u = load_entry(user_copy, i);
                ++result_.entries_read_;
                const bool kp = (v & entry::kPresent) != 0;
                const bool up = (u & entry::kPresent) != 0;
                if (kp != up || (kp && (v & entry::kAddressMask) != (u & entry::kAddressMask))) {
                    anomaly(AnomalyKind::pti_copy_mismatch, node, static_cast<std::uint16_t>(i), u);
                    if (up) {
                        walk_entry(node, level, static_cast<std::uint16_t>(i + 512), u, path,
                                   depth);
                    }
                }
            }
        }
    }

    void walk_entry(std::uint32_t node, int level, std::uint16_t index, std::uint64_t v,
                    std::array<std::uint32_t, 6>& path, int depth) {
        if ((v & entry::kPresent) == 0) {
            if (v != 0) {
                ++result_.nodes_[node].nonpresent_nonzero;
            }
            return;
        }
        if ((v & entry::kPageSize) != 0) {
            if (level >= 4) {
                anomaly(AnomalyKind::reserved_page_size, node, index, v);
                return;
            }
            const auto frame = v & (level == 3 ? entry::kAddressMask1G : entry::kAddressMask2M);
            ++result_.nodes_[node].leaves;
            if (!ram_.contains(frame)) {
                ++result_.nodes_[node].leaves_outside_ram;
                anomaly(AnomalyKind::leaf_outside_ram, node, index, v);
            } else {
                mark_leaf(frame, level);
            }
            return;
        }
        const auto child_phys = v & entry::kAddressMask;
        const auto page = ram_.page(child_phys);
        if (page == ~std::uint64_t{0} || memory_.page(child_phys).empty()) {
            anomaly(AnomalyKind::table_outside_ram, node, index, v);
            return;
        }
        const auto existing = page_node_[page];
        if (existing == node) {
            anomaly(AnomalyKind::self_reference, node, index, v);
            return;
        }
        if (existing != kNoNode) {
            for (int d = 0; d < depth; ++d) {
                if (path[static_cast<std::size_t>(d)] == existing) {
                    anomaly(AnomalyKind::cycle, node, index, v);
                    return;
                }
            }
            if (result_.nodes_[existing].level != level - 1) {
                anomaly(AnomalyKind::level_conflict, node, index, v);
                return;
            }
            ++result_.nodes_[node].tables;
            add_reference(node, existing, index);
            return;
        }
        const auto child = new_node(child_phys, level - 1, page);
        ++result_.nodes_[node].tables;
        add_reference(node, child, index);
        walk_table(child, path, depth + 1);
    }

    void index_references() {
        auto& refs = result_.refs_;
        refs = std::move(refs_);
        std::stable_sort(refs.begin(), refs.end(),
                         [](const Reference& a, const Reference& b) { return a.child < b.child; });
        const auto n = result_.nodes_.size();
        result_.ref_begin_.assign(n + 1, 0);
        for (const auto& r : refs) {
            ++result_.ref_begin_[r.child + 1];
        }
        for (std::size_t i = 0; i < n; ++i) {
            result_.ref_begin_[i + 1] += result_.ref_begin_[i];
        }
        auto& by_parent = result_.child_refs_;
        by_parent = refs;
        std::stable_sort(
            by_parent.begin(), by_parent.end(),
            [](const Reference& a, const Reference& b) { return a.parent < b.parent; });
        result_.child_begin_.assign(n + 1, 0);
        for (const auto& r : by_parent) {
            ++result_.child_begin_[r.parent + 1];
        }
        for (std::size_t i = 0; i < n; ++i) {
            result_.child_begin_[i + 1] += result_.child_begin_[i];
        }
    }

    std::uint32_t add_set(const std::vector<std::uint32_t>& members) {
        const auto id = static_cast<std::uint32_t>(result_.set_begin_.size() - 1);
        result_.set_members_.insert(result_.set_members_.end(), members.begin(), members.end());
        result_.set_begin_.push_back(static_cast<std::uint32_t>(result_.set_members_.size()));
        return id;
    }

    void compute_root_sets() {
        auto& nodes = result_.nodes_;
        const auto root_count = static_cast<std::uint32_t>(result_.roots_.size());
        // Sets 0..R-1 are the singletons {r}; set R is the empty set.
        result_.set_begin_.assign(1, 0);
        for (std::uint32_t r = 0; r < root_count; ++r) {
            add_set({r});
        }
        const auto empty = add_set({});
        std::map<std::vector<std::uint32_t>, std::uint32_t> interned;

        std::array<std::vector<std::uint32_t>, 6> by_level;
        for (std::uint32_t i = 0; i < nodes.size(); ++i) {
            by_level[nodes[i].level].push_back(i);
        }
        std::vector<std::uint32_t> members;
        for (int level = 5; level >= 1; --level) {
            for (const auto id : by_level[static_cast<std::size_t>(level)]) {
                auto& n = nodes[id];
                if (n.root) {
                    n.root_set = first_input_[id];
                    continue;
                }
                const auto refs = result_.referrers(id);
                if (refs.empty()) {
                    n.root_set = empty;
                    continue;
                }
                const auto first = nodes[refs[0].parent].root_set;
                bool same = true;
                for (const auto& r : refs) {
                    same = same && nodes[r.parent].root_set == first;
                }
                if (same) {
                    n.root_set = first;
                    continue;
                }
                members.clear();
                for (const auto& r : refs) {
                    const auto s = result_.roots_of(r.parent);
                    members.insert(members.end(), s.begin(), s.end());
                }
                std::sort(members.begin(), members.end());
                members.erase(std::unique(members.begin(), members.end()), members.end());
                if (const auto it = interned.find(members); it != interned.end()) {
                    n.root_set = it->second;
                    continue;
                }
                if (result_.set_members_.size() + members.size() > options_.max_root_set_members) {
                    anomaly(AnomalyKind::root_set_limit, id, 0, 0);
                    result_.truncated_ = true;
                    n.root_set = first;
                    continue;
                }
                n.root_set = add_set(members);
                interned.emplace(members, n.root_set);
            }
        }
    }

    void summarize() {
        auto& r = result_;
        const auto sets = r.set_begin_.size() - 1;
        std::vector<PerLevel> set_tables(sets);
        std::vector<PerLevel> set_leaves(sets);
        for (const auto& n : r.nodes_) {
            set_tables[n.root_set][n.level] += n.pages;
            set_leaves[n.root_set][n.level] += n.leaves;
            r.unique_tables_[n.level] += n.pages;
        }
        for (std::size_t s = 0; s < sets; ++s) {
            const std::span<const std::uint32_t> members(r.set_members_.data() + r.set_begin_[s],
                                                         r.set_begin_[s + 1] - r.set_begin_[s]);
            for (const auto m : members) {
                auto& root = r.roots_[m];
                for (std::size_t level = 1; level <= 5; ++level) {
                    if (members.size() == 1) {
                        root.own_tables[level] += set_tables[s][level];
                    } else {
                        root.shared_tables[level] += set_tables[s][level];
                    }
                    root.leaves[level] += set_leaves[s][level];
                    r.per_root_tables_[level] += set_tables[s][level];
                }
            }
        }
        for (std::size_t i = 0; i < r.roots_.size(); ++i) {
            auto& root = r.roots_[i];
            if (root.node != kNoNode && first_input_[root.node] != i) {
                const auto& first = r.roots_[first_input_[root.node]];
                root.own_tables = first.own_tables;
                root.shared_tables = first.shared_tables;
                root.leaves = first.leaves;
            }
            for (int level = 1; level <= 3; ++level) {
                root.mapped_bytes +=
                    root.leaves[static_cast<std::size_t>(level)] * leaf_bytes(level);
            }
        }
        r.by_phys_.reserve(r.nodes_.size() + r.roots_.size());
        for (std::uint32_t i = 0; i < r.nodes_.size(); ++i) {
            r.by_phys_.emplace_back(r.nodes_[i].phys, i);
            if (r.nodes_[i].pages == 2) {
                r.by_phys_.emplace_back(r.nodes_[i].phys + kTableBytes, i);
            }
        }
        std::sort(r.by_phys_.begin(), r.by_phys_.end());
    }

    const PhysView& memory_;
    const WalkOptions& options_;
    RamIndex ram_;
    std::vector<std::uint32_t> page_node_;
    std::vector<std::uint32_t> first_input_;  // per node: first root input index, or kNoNode
    std::vector<Reference> refs_;
    WalkResult result_;
};

std::optional<std::uint32_t> WalkResult::find(std::uint64_t phys) const noexcept {
    const auto page = phys & ~(kTableBytes - 1);
    const auto it = std::lower_bound(by_phys_.begin(), by_phys_.end(),
                                     std::pair<std::uint64_t, std::uint32_t>{page, 0});
    if (it == by_phys_.end() || it->first != page) {
        return std::nullopt;
    }
    return it->second;
}

std::span<const Reference> WalkResult::referrers(std::uint32_t node) const noexcept {
    if (node + 1 >= ref_begin_.size()) {
        return {};
    }
    return {refs_.data() + ref_begin_[node], ref_begin_[node + 1] - ref_begin_[node]};
}

std::span<const Reference> WalkResult::children(std::uint32_t node) const noexcept {
    if (node + 1 >= child_begin_.size()) {
        return {};
    }
    return {child_refs_.data() + child_begin_[node], child_begin_[node + 1] - child_begin_[node]};
}

std::span<const std::uint32_t> WalkResult::roots_of(std::uint32_t node) const noexcept {
    if (node >= nodes_.size()) {
        return {};
    }
    const auto s = nodes_[node].root_set;
    return {set_members_.data() + set_begin_[s], set_begin_[s + 1] - set_begin_[s]};
}

Subtree WalkResult::below(std::uint32_t node) const {
    Subtree out;
    if (node >= nodes_.size()) {
        return out;
    }
    std::vector<std::uint32_t> stack{node};
    std::unordered_set<std::uint32_t> seen{node};
    while (!stack.empty()) {
        const auto id = stack.back();
        stack.pop_back();
        const auto& n = nodes_[id];
        if (id != node) {
            out.tables[n.level] += n.pages;
        }
        out.leaves[n.level] += n.leaves;
        out.mapped_bytes += n.leaves * leaf_bytes(n.level);
        for (const auto& r : children(id)) {
            if (seen.insert(r.child).second) {
                stack.push_back(r.child);
            }
        }
    }
    return out;
}

std::uint64_t WalkResult::anomaly_total() const noexcept {
    std::uint64_t total = 0;
    for (const auto c : anomaly_counts_) {
        total += c;
    }
    return total;
}

bool WalkResult::leaf_maps(std::uint64_t phys) const noexcept {
    if (leaf_bits_.empty()) {
        return false;
    }
    const auto offset = layout_.offset_of(phys & ~(kTableBytes - 1), kTableBytes);
    if (!offset) {
        return false;
    }
    const auto p = *offset / kTableBytes;
    return p / 64 < leaf_bits_.size() && ((leaf_bits_[p / 64] >> (p % 64)) & 1) != 0;
}

WalkResult walk(const PhysView& memory, std::span<const std::uint64_t> roots,
                const WalkOptions& options) {
    WalkBuilder builder(memory, options);
    return builder.run(roots);
}

std::optional<Translation> translate(const PhysView& memory, std::uint64_t root, std::uint64_t va,
                                     PagingMode mode) noexcept {
    if (!is_canonical(va, mode)) {
        return std::nullopt;
    }
    std::uint64_t table = root & entry::kAddressMask;
    for (int level = top_level(mode); level >= 1; --level) {
        const auto e = memory.read_as<std::uint64_t>(table + 8ULL * table_index(va, level));
        if (!e || (*e & entry::kPresent) == 0) {
            return std::nullopt;
        }
        const bool leaf = level == 1 || ((*e & entry::kPageSize) != 0 && level <= 3);
        if ((*e & entry::kPageSize) != 0 && level >= 4) {
            return std::nullopt;
        }
        if (leaf) {
            const auto size = leaf_bytes(level);
            const auto mask = level == 3   ? entry::kAddressMask1G
                              : level == 2 ? entry::kAddressMask2M
                                           : entry::kAddressMask;
            return Translation{(*e & mask) + (va & (size - 1)), size, *e};
        }
        table = *e & entry::kAddressMask;
    }
    return std::nullopt;
}

}  // namespace mvmm::walker
