#include <mvmm/common/error.hpp>
#include <mvmm/common/strings.hpp>
#include <mvmm/loader/boot_layout.hpp>
#include <mvmm/loader/e820.hpp>
#include <mvmm/loader/zero_page.hpp>

namespace mvmm {

std::vector<E820Entry> build_e820_map(const RamLayout& layout) {
    namespace bl = boot_layout;
    const auto& ranges = layout.ranges();
    if (ranges.empty() || ranges.front().gpa != 0 || ranges.front().size < 2 * kMiB) {
        throw Error("e820 map: guest RAM must start at 0 with at least 2 MiB");
    }
    std::vector<E820Entry> map;
    map.push_back({0, bl::kEbda, zero_page::kE820Ram});
    map.push_back({bl::kEbda, bl::kLowMemEnd - bl::kEbda, zero_page::kE820Reserved});
    map.push_back({bl::kBiosArea, bl::kBiosAreaEnd - bl::kBiosArea, zero_page::kE820Reserved});
    map.push_back({bl::kHighMem, ranges.front().size - bl::kHighMem, zero_page::kE820Ram});
    for (std::size_t i = 1; i < ranges.size(); ++i) {
        map.push_back({ranges[i].gpa, ranges[i].size, zero_page::kE820Ram});
    }
    if (map.size() > zero_page::kE820MaxEntries) {
        throw Error(cat("e820 map: ", map.size(), " entries do not fit boot_params (",
                        zero_page::kE820MaxEntries, ")"));
    }
    return map;
}

}  // namespace mvmm
