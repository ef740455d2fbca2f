// Chunk bounds: walked on the source's key, or integer value ranges.
#include "sync-diff/chunk.h"

#include <fmt/format.h>

#include <algorithm>

namespace binlog::syncdiff {

namespace {

// An integer column's text (any of BIGINT's and BIGINT UNSIGNED's values).
std::optional<__int128> ParseInteger(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  const bool negative = (*text)[0] == '-';
  __int128 v = 0;
  for (size_t i = negative ? 1 : 0; i < text->size(); ++i) {
    const char c = (*text)[i];
    if (c < '0' || c > '9' || i > 21) return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return negative ? -v : v;
}

std::string IntegerText(__int128 v) {
  if (v == 0) return "0";
  const bool negative = v < 0;
  std::string digits;
  for (; v != 0; v /= 10)
    digits.push_back(static_cast<char>('0' + (negative ? -(v % 10) : v % 10)));
  if (negative) digits.push_back('-');
  return std::string(digits.rbegin(), digits.rend());
}

}  // namespace

Result<std::unique_ptr<Chunker>> Chunker::Make(const TablePlan& t, mysql::Connection* source,
                                               mysql::Connection* target, uint64_t chunk_size,
                                               const KeyRange& within) {
  std::unique_ptr<Chunker> c(new Chunker(t, source, std::max<uint64_t>(chunk_size, 1), within));
  c->lo_ = within.lo;
  // Without statistics the row count is unknown: walking is the only even cut.
  if (target != nullptr && t.integer_key && !within.lo && !within.hi && t.estimated_rows > 0) {
    RETURN_IF_ERROR(c->InitValueRanges(target));
  }
  return c;
}

Status Chunker::InitValueRanges(mysql::Connection* target) {
  std::optional<__int128> lo, hi;
  for (mysql::Connection* conn : {source_, target}) {
    ASSIGN_OR_RETURN(auto rows, conn->Query(MinMaxSql(table_)));
    if (rows.empty() || rows[0].size() < 2) continue;
    std::optional<__int128> min = ParseInteger(rows[0][0]), max = ParseInteger(rows[0][1]);
    if (min) lo = lo ? std::min(*lo, *min) : *min;
    if (max) hi = hi ? std::max(*hi, *max) : *max;
  }
  if (!lo || !hi) return Status::OK();  // both empty: one walked chunk covers it
  const __int128 span = *hi - *lo + 1;
  __int128 count = (table_.estimated_rows + chunk_size_ - 1) / chunk_size_;
  count = std::clamp<__int128>(count, 1, span);
  step_ = (span + count - 1) / count;
  count_ = static_cast<uint64_t>((span + step_ - 1) / step_);
  min_ = *lo;
  by_value_ = true;
  return Status::OK();
}

Result<bool> Chunker::Next(KeyRange* out) {
  if (done_) return false;
  if (table_.key.empty()) {
    *out = KeyRange{};
    done_ = true;
    return true;
  }
  if (by_value_) {
    const uint64_t i = next_++;
    *out = KeyRange{};
    if (i > 0) out->lo = std::vector<std::string>{IntegerText(min_ - 1 + step_ * i)};
    if (i + 1 < count_) {
      out->hi = std::vector<std::string>{IntegerText(min_ - 1 + step_ * (i + 1))};
    } else {
      done_ = true;
    }
    return true;
  }
  KeyRange rest{lo_, within_.hi};
  ASSIGN_OR_RETURN(auto rows, source_->Query(BoundarySql(table_, rest, chunk_size_)));
  if (rows.empty()) {
    *out = rest;
    done_ = true;
    return true;
  }
  std::vector<std::string> bound = KeyLiterals(table_, rows[0], true);
  *out = KeyRange{lo_, bound};
  lo_ = std::move(bound);
  return true;
}

}  // namespace binlog::syncdiff
