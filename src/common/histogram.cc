#include "common/histogram.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace binlog {

void LatencyHistogram::Observe(uint64_t micros) {
  auto it = std::lower_bound(kBoundsMicros.begin(), kBoundsMicros.end(), micros);
  ++buckets_[static_cast<size_t>(it - kBoundsMicros.begin())];
  ++count_;
  sum_micros_ += micros;
}

uint64_t LatencyHistogram::CumulativeCount(size_t i) const {
  uint64_t n = 0;
  for (size_t b = 0; b <= i && b < buckets_.size(); ++b) n += buckets_[b];
  return n;
}

void LatencyHistogram::AppendPrometheus(std::string* out, std::string_view name,
                                        std::string_view labels) const {
  auto sink = std::back_inserter(*out);
  std::string_view sep = labels.empty() ? "" : ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i];
    std::string le = i < kBoundsMicros.size()
                         ? fmt::format("{}", static_cast<double>(kBoundsMicros[i]) / 1e6)
                         : std::string("+Inf");
    fmt::format_to(sink, "{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, le, cumulative);
  }
  std::string braces = labels.empty() ? "" : fmt::format("{{{}}}", labels);
  fmt::format_to(sink, "{}_sum{} {}\n", name, braces, static_cast<double>(sum_micros_) / 1e6);
  fmt::format_to(sink, "{}_count{} {}\n", name, braces, count_);
}

}  // namespace binlog
