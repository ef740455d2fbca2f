#include "loadgen/workload.h"

#include <fmt/format.h>
#include <time.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <span>
#include <string_view>

#include "common/env.h"
#include "common/tso.h"

namespace binlog::workload {

uint64_t Rng::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t Rng::Uniform(uint64_t n) {
  // Lemire's multiply-shift: no division, and the bias is far below anything a workload notices.
  return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
}

int64_t Rng::Range(int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(Uniform(static_cast<uint64_t>(hi - lo) + 1));
}

bool Rng::Chance(double p) { return static_cast<double>(Next() >> 11) * 0x1.0p-53 < p; }

namespace {

// Operation mix per row change; with re-insertion of deleted ids the table size stays steady.
constexpr double kInsertShare = 0.25;
constexpr double kDeleteShare = 0.20;
// A transaction mostly stays on one table, as an application's transactions do.
constexpr double kSameTableShare = 0.8;

pb::ColumnInfo Column(std::string_view name, std::string_view type, bool pk = false,
                      bool nullable = false, std::string_view charset = {},
                      bool is_unsigned = false) {
  pb::ColumnInfo c;
  c.set_name(std::string(name));
  c.set_mysql_type(std::string(type));
  c.set_is_primary_key(pk);
  c.set_is_nullable(nullable);
  c.set_charset(std::string(charset));
  c.set_is_unsigned(is_unsigned);
  return c;
}

std::vector<pb::ColumnInfo> SbtestColumns() {
  return {Column("id", "int", true), Column("k", "int"),
          Column("c", "char(120)", false, false, "utf8mb4"),
          Column("pad", "char(60)", false, false, "utf8mb4")};
}

std::vector<pb::ColumnInfo> OrdersColumns() {
  return {Column("id", "bigint unsigned", true, false, {}, true),
          Column("customer", "varchar(64)", false, false, "utf8mb4"),
          Column("amount", "decimal(12,2)"),
          Column("weight", "double", false, true),
          Column("created_at", "datetime(6)"),
          Column("status", "enum('new','paid','shipped','cancelled')", false, false, "utf8mb4"),
          Column("note", "varchar(255)", false, true, "utf8mb4"),
          Column("attachment", "blob", false, true, "binary"),
          Column("flags", "tinyint unsigned", false, false, {}, true)};
}

// sysbench's c and pad: groups of 11 random digits joined by '-'.
std::string DigitGroups(Rng& rng, int groups) {
  std::string out;
  out.reserve(static_cast<size_t>(groups) * 12);
  for (int g = 0; g < groups; ++g) {
    if (g > 0) out.push_back('-');
    uint64_t v = rng.Next();
    for (int i = 0; i < 11; ++i, v /= 10) out.push_back(static_cast<char>('0' + v % 10));
  }
  return out;
}

// Multi-byte UTF-8 on purpose: names are where encodings break first.
constexpr std::array<std::string_view, 12> kNameParts = {"Zoë",      "José",   "Łukasz", "Ærø",
                                                         "王小明",   "李",     "Björk",  "Анна",
                                                         "Δημήτρης", "Nguyễn", "佐藤",   "O'Brien"};
constexpr std::array<std::string_view, 4> kStatuses = {"new", "paid", "shipped", "cancelled"};
constexpr std::array<std::string_view, 8> kWords = {
    "fragile", "gift", "leave at door", "日本語", "emoji 📦", "rush", "\"quoted\"", "back\\slash"};

std::string Words(Rng& rng, std::span<const std::string_view> words, int n, std::string_view sep) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    if (i > 0) out.append(sep);
    out.append(words[rng.Uniform(words.size())]);
  }
  return out;
}

std::string Decimal(Rng& rng) {
  int64_t cents = rng.Range(-99999, 999999999);
  uint64_t abs = static_cast<uint64_t>(cents < 0 ? -cents : cents);
  return fmt::format("{}{}.{:02}", cents < 0 ? "-" : "", abs / 100, abs % 100);
}

std::string Datetime6(int64_t unix_seconds, int64_t micros) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, micros);
}

uint64_t Mix(uint64_t a, uint64_t b) {
  Rng r(a ^ (b * 0xD6E8FEB86659FD93ull));
  return r.Next();
}

}  // namespace

Workload::Workload(const WorkloadOptions& options)
    : options_(options), rng_(Mix(options.seed, 0x5EED0000ull + options.shard)) {
  const int shards = std::max(options_.shards, 1);
  const uint64_t size = options_.table_size;
  const uint64_t shard = static_cast<uint64_t>(options_.shard);
  // This shard's share of ids 1..table_size.
  const uint64_t local_rows = size > shard ? (size - shard + shards - 1) / shards : 0;
  for (int i = 1; i <= options_.tables; ++i) {
    tables_.push_back(TableState{"sbtest",
                                 fmt::format("sbtest{}", i),
                                 false,
                                 SbtestColumns(),
                                 std::vector<uint32_t>(local_rows, 1),
                                 {}});
  }
  if (options_.typed_table) {
    tables_.push_back(TableState{
        "shop", "orders", true, OrdersColumns(), std::vector<uint32_t>(local_rows, 1), {}});
  }
}

Workload::~Workload() = default;

uint64_t Workload::IdOf(uint64_t index) const {
  return index * static_cast<uint64_t>(std::max(options_.shards, 1)) +
         static_cast<uint64_t>(options_.shard) + 1;
}

size_t Workload::PickRowCount() {
  // Uniform around the mean: 1 .. 2*mean-1 rows.
  double span = 2 * (std::max(options_.txn_rows, 1.0) - 1);
  return 1 + static_cast<size_t>(
                 std::llround(span * static_cast<double>(rng_.Next() >> 11) * 0x1.0p-53));
}

size_t Workload::Next(pb::Binlog* out) {
  out->Clear();
  out->set_tp(pb::COMMIT);
  if (tables_.empty()) return 0;
  if (rng_.Chance(options_.ddl_ratio)) {
    MakeDdl(out);
    return 0;
  }
  size_t rows = PickRowCount();
  size_t table_no = rng_.Uniform(tables_.size());
  for (size_t i = 0; i < rows; ++i) {
    if (i > 0 && !rng_.Chance(kSameTableShare)) table_no = rng_.Uniform(tables_.size());
    const TableState& t = tables_[table_no];
    pb::TableChanges* changes = nullptr;
    for (auto& c : *out->mutable_tables()) {
      if (c.table_name() == t.name && c.schema_name() == t.schema) changes = &c;
    }
    if (changes == nullptr) {
      changes = out->add_tables();
      changes->set_schema_name(t.schema);
      changes->set_table_name(t.name);
      *changes->mutable_columns() = {t.columns.begin(), t.columns.end()};
    }
    AddChange(table_no, changes);
  }
  return rows;
}

void Workload::AddChange(size_t table_no, pb::TableChanges* changes) {
  TableState& t = tables_[table_no];
  pb::TableMutation* m = changes->add_mutations();
  // A live row for an update or delete; a few random probes, as deleted rows are a minority.
  std::optional<uint64_t> live;
  double op = static_cast<double>(rng_.Next() >> 11) * 0x1.0p-53;
  if (op >= kInsertShare && !t.versions.empty()) {
    for (int probe = 0; probe < 8 && !live; ++probe) {
      uint64_t i = rng_.Uniform(t.versions.size());
      if (t.versions[i] != 0) live = i;
    }
  }
  if (!live) {
    uint64_t index;
    if (!t.deleted.empty() && rng_.Chance(0.5)) {
      index = t.deleted.back();
      t.deleted.pop_back();
    } else {
      index = t.versions.size();
      t.versions.push_back(0);
    }
    t.versions[index] = 1;
    m->set_type(pb::INSERT);
    FillRow(table_no, index, 1, m->mutable_row());
  } else if (op < kInsertShare + kDeleteShare) {
    m->set_type(pb::DELETE);
    FillRow(table_no, *live, t.versions[*live], m->mutable_row());
    t.versions[*live] = 0;
    t.deleted.push_back(*live);
  } else {
    m->set_type(pb::UPDATE);
    uint32_t& v = t.versions[*live];
    FillRow(table_no, *live, v, m->mutable_before());
    v = v == UINT32_MAX ? 1 : v + 1;
    FillRow(table_no, *live, v, m->mutable_row());
  }
}

void Workload::FillRow(size_t table_no, uint64_t index, uint32_t version, pb::Row* row) const {
  const TableState& t = tables_[table_no];
  const uint64_t id = IdOf(index);
  Rng r(Mix(Mix(Mix(options_.seed, table_no), id), version));
  auto col = [row]() { return row->add_columns(); };
  if (!t.typed) {
    // pad belongs to the id alone, so an update changes k and c like sysbench's updates do.
    Rng pad_rng(Mix(Mix(options_.seed, table_no), id));
    col()->set_int64_value(static_cast<int64_t>(id));
    col()->set_int64_value(
        r.Range(1, static_cast<int64_t>(std::max<uint64_t>(options_.table_size, 1))));
    col()->set_string_value(DigitGroups(r, 10));
    col()->set_string_value(DigitGroups(pad_rng, 5));
    return;
  }
  col()->set_uint64_value(id);
  col()->set_string_value(Words(r, kNameParts, static_cast<int>(r.Range(1, 3)), " "));
  col()->set_decimal_value(Decimal(r));
  if (r.Chance(0.1)) {
    col()->set_is_null(true);
  } else {
    col()->set_double_value(static_cast<double>(r.Uniform(1000000000)) / 1000.0);
  }
  constexpr int64_t k2024 = 1704067200;  // 2024-01-01 00:00:00 UTC
  col()->set_string_value(Datetime6(k2024 + static_cast<int64_t>(id % 10000000) * 3 + version * 60,
                                    static_cast<int64_t>(r.Uniform(1000000))));
  col()->set_string_value(std::string(kStatuses[r.Uniform(kStatuses.size())]));
  if (r.Chance(0.5)) {
    col()->set_is_null(true);
  } else {
    col()->set_string_value(Words(r, kWords, static_cast<int>(r.Range(1, 12)), ", "));
  }
  if (r.Chance(0.3)) {
    col()->set_is_null(true);
  } else {
    std::string blob(r.Uniform(257), '\0');
    for (char& b : blob) b = static_cast<char>(r.Next());
    col()->set_bytes_value(std::move(blob));
  }
  col()->set_uint64_value(r.Uniform(256));
}

void Workload::MakeDdl(pb::Binlog* out) {
  const TableState& t = tables_[rng_.Uniform(tables_.size())];
  ++ddl_count_;
  // Names carry the shard so generators running side by side never add the same one. Added
  // columns are nullable and never filled: rows that leave them out stay right for a replay that
  // names its columns, and generators need not share schema state.
  if (rng_.Chance(0.5)) {
    out->set_ddl_query(fmt::format("ALTER TABLE `{}` ADD COLUMN `x{}_{}` int NULL", t.name,
                                   options_.shard, ddl_count_));
  } else {
    out->set_ddl_query(fmt::format("CREATE INDEX `idx{}_{}` ON `{}` (`{}`, `id`)", options_.shard,
                                   ddl_count_, t.name, t.typed ? "status" : "k"));
  }
  out->set_ddl_schema(t.schema);
}

TsSequencer::TsSequencer() : TsSequencer([] { return Env::Posix()->NowMicros() / 1000; }) {}

TsSequencer::TsSequencer(Clock clock) : clock_(std::move(clock)) {}

uint64_t TsSequencer::NextN(uint64_t n) {
  const uint64_t now = ComposeTS(clock_(), 0);
  std::lock_guard<std::mutex> lock(mu_);
  const uint64_t first = std::max(now, last_ + 1);
  last_ = first + n - 1;
  return first;
}

}  // namespace binlog::workload
