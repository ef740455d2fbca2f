// A fixed-bucket latency histogram, cheap enough to update on every fdatasync, in the shape
// Prometheus exposes histograms (cumulative buckets, sum, count).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace binlog {

class LatencyHistogram {
 public:
  // Upper bounds in microseconds: a VM's idle fdatasync sits near 4 ms, a busy one near 0.1 ms,
  // and a stalling disk shows in the seconds.
  static constexpr std::array<uint64_t, 14> kBoundsMicros = {
      50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 5000000};

  void Observe(uint64_t micros);
  uint64_t count() const { return count_; }
  uint64_t sum_micros() const { return sum_micros_; }
  // Observations <= kBoundsMicros[i] (cumulative); i == kBoundsMicros.size() is +Inf.
  uint64_t CumulativeCount(size_t i) const;

  // Appends the histogram in the Prometheus text format, in seconds, with `labels` (such as
  // `journal="wal"`, may be empty) on every sample. The HELP/TYPE lines are the caller's.
  void AppendPrometheus(std::string* out, std::string_view name, std::string_view labels) const;

 private:
  std::array<uint64_t, kBoundsMicros.size() + 1> buckets_{};  // not cumulative; last is +Inf
  uint64_t count_ = 0;
  uint64_t sum_micros_ = 0;
};

}  // namespace binlog
