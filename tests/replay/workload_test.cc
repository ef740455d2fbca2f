// A random workload (fixed seed) on tables with every kind of key, archived and replayed into
// fresh databases of B with 1 and 16 workers, plain and in safe mode: every table equal each
// time. The workload moves key values between rows (updates of primary and unique keys, swaps
// through a temporary value, a deleted key inserted again), which is what the scheduler must
// keep in order when it runs transactions in parallel.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "replay/replay_test_util.h"

namespace binlog::replay::testing {
namespace {

// splitmix64: the same sequence on every platform (std distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9;
    z = (z ^ (z >> 27)) * 0x94d049bb133111eb;
    return z ^ (z >> 31);
  }
  int Below(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }
  bool OneIn(int n) { return Below(n) == 0; }

 private:
  uint64_t state_;
};

// Keys present in a table, picked at random in O(1).
template <typename K>
class KeySet {
 public:
  bool Has(const K& k) const { return index_.count(k) > 0; }
  size_t count(const K& k) const { return index_.count(k); }
  size_t size() const { return keys_.size(); }
  void Add(const K& k) {
    index_[k] = keys_.size();
    keys_.push_back(k);
  }
  void Remove(const K& k) {
    size_t i = index_.at(k);
    index_[keys_.back()] = i;
    keys_[i] = keys_.back();
    keys_.pop_back();
    index_.erase(k);
  }
  const K& Pick(Rng& rng) const { return keys_[rng.Below(static_cast<int>(keys_.size()))]; }

 private:
  std::vector<K> keys_;
  std::unordered_map<K, size_t> index_;
};

std::string Text(Rng& rng) {
  static const char* kWords[] = {"", "a", "b c", "it's", "x\\y", "ü", "😀", "long value here"};
  return kWords[rng.Below(8)];
}

std::string Quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

std::string Nullable(const std::optional<int>& v) {
  return v ? std::to_string(*v) : std::string("NULL");
}

// The workload's model of A's tables, so every statement it writes changes exactly one row.
class Workload {
 public:
  static constexpr const char* kSchema =
      "CREATE DATABASE wl; "
      // A primary key and a nullable unique key.
      "CREATE TABLE wl.pk (id INT PRIMARY KEY, u INT NULL, v VARCHAR(20), n INT, UNIQUE KEY (u)); "
      "CREATE TABLE wl.composite (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b)); "
      // Only a NOT NULL unique key, case-insensitive: 'Key7' and 'key7' are the same key.
      "CREATE TABLE wl.uk (u VARCHAR(20) NOT NULL, v INT, UNIQUE KEY (u)); "
      // Only a nullable unique key: rows with NULL there are found by every column.
      "CREATE TABLE wl.nuk (u INT NULL, v INT, UNIQUE KEY (u)); "
      "CREATE TABLE wl.nokey (x INT, y VARCHAR(10))";

  explicit Workload(uint64_t seed) : rng_(seed) {}

  // One transaction of 1..10 row changes, as one multi-statement string.
  std::string Transaction(int* changes) {
    int want = 1 + rng_.Below(10);
    std::string sql = "START TRANSACTION";
    int n = 0;
    while (n < want) {
      std::vector<std::string> stmts;
      switch (rng_.Below(5)) {
        case 0:
          Pk(want - n, &stmts);
          break;
        case 1:
          Composite(&stmts);
          break;
        case 2:
          Uk(want - n, &stmts);
          break;
        case 3:
          Nuk(&stmts);
          break;
        default:
          Nokey(&stmts);
          break;
      }
      for (const std::string& s : stmts) sql += "; " + s;
      n += static_cast<int>(stmts.size());
    }
    *changes += n;
    return sql + "; COMMIT";
  }

  size_t Rows(const std::string& table) const {
    if (table == "pk") return pk_.size();
    if (table == "composite") return composite_.size();
    if (table == "uk") return uk_.size();
    if (table == "nuk") return nuk_.size();
    return nokey_.size();
  }

 private:
  struct PkRow {
    std::optional<int> u;
    std::string v;
    int n = 0;
  };

  // Insert when there is little, delete when there is much: the tables hover around half full.
  enum class Op { kInsert, kUpdate, kDelete };
  Op Choose(size_t size, size_t capacity) {
    if (size == 0) return Op::kInsert;
    int r = rng_.Below(100);
    int insert = size < capacity / 2 ? 40 : 25;
    if (r < insert) return Op::kInsert;
    return r < insert + 45 ? Op::kUpdate : Op::kDelete;
  }

  // A value of [1, range] not in `used`, or nullopt after a few tries.
  template <typename Set>
  std::optional<int> Free(const Set& used, int range) {
    for (int i = 0; i < 8; ++i) {
      int v = 1 + rng_.Below(range);
      if (!used.count(v)) return v;
    }
    return std::nullopt;
  }

  std::optional<int> FreeU() {
    if (rng_.OneIn(4)) return std::nullopt;
    return Free(pk_u_, 3000);
  }

  void Pk(int room, std::vector<std::string>* out) {
    constexpr int kIds = 3000;
    Op op = Choose(pk_.size(), kIds);
    if (op == Op::kInsert) {
      std::optional<int> id = Free(pk_, kIds);
      if (!id)
        op = Op::kUpdate;
      else {
        PkRow row{FreeU(), Text(rng_), rng_.Below(1000)};
        if (row.u) pk_u_.insert(*row.u);
        out->push_back(fmt::format("INSERT INTO wl.pk VALUES ({}, {}, {}, {})", *id,
                                   Nullable(row.u), Quote(row.v), row.n));
        pk_[*id] = row;
        pk_ids_.Add(*id);
        return;
      }
    }
    int id = pk_ids_.Pick(rng_);
    PkRow& row = pk_[id];
    if (op == Op::kDelete) {
      out->push_back(fmt::format("DELETE FROM wl.pk WHERE id = {}", id));
      if (row.u) pk_u_.erase(*row.u);
      pk_.erase(id);
      pk_ids_.Remove(id);
      return;
    }
    switch (rng_.Below(5)) {
      case 0: {  // the primary key moves
        std::optional<int> to = Free(pk_, kIds);
        if (!to) break;
        out->push_back(fmt::format("UPDATE wl.pk SET id = {} WHERE id = {}", *to, id));
        pk_[*to] = row;
        pk_.erase(id);
        pk_ids_.Remove(id);
        pk_ids_.Add(*to);
        return;
      }
      case 1: {  // the unique key moves (or becomes NULL)
        std::optional<int> to = FreeU();
        if (to == row.u) break;
        if (row.u) pk_u_.erase(*row.u);
        if (to) pk_u_.insert(*to);
        row.u = to;
        out->push_back(fmt::format("UPDATE wl.pk SET u = {} WHERE id = {}", Nullable(to), id));
        return;
      }
      case 2: {  // two rows swap their ids through -1, or their u through -1
        int other = pk_ids_.Pick(rng_);
        if (room < 3 || other == id) break;
        if (rng_.OneIn(2)) {
          out->push_back(fmt::format("UPDATE wl.pk SET id = -1 WHERE id = {}", id));
          out->push_back(fmt::format("UPDATE wl.pk SET id = {} WHERE id = {}", id, other));
          out->push_back(fmt::format("UPDATE wl.pk SET id = {} WHERE id = -1", other));
          std::swap(pk_[id], pk_[other]);
          return;
        }
        PkRow& o = pk_[other];
        if (!row.u || !o.u) break;
        out->push_back(fmt::format("UPDATE wl.pk SET u = -1 WHERE id = {}", id));
        out->push_back(fmt::format("UPDATE wl.pk SET u = {} WHERE id = {}", *row.u, other));
        out->push_back(fmt::format("UPDATE wl.pk SET u = {} WHERE id = {}", *o.u, id));
        std::swap(row.u, o.u);
        return;
      }
      default:
        break;
    }
    row.v = Text(rng_);
    row.n += 1 + rng_.Below(1000);  // a change: an update that changes nothing is not logged
    out->push_back(
        fmt::format("UPDATE wl.pk SET v = {}, n = {} WHERE id = {}", Quote(row.v), row.n, id));
  }

  void Composite(std::vector<std::string>* out) {
    static const char* kB[] = {"x", "y", "z", "w"};
    auto key = [&] { return (1 + rng_.Below(300)) * 10 + rng_.Below(4); };
    auto where = [&](int k) { return fmt::format("a = {} AND b = '{}'", k / 10, kB[k % 10]); };
    Op op = Choose(composite_.size(), 1200);
    std::optional<int> fresh;
    if (op != Op::kDelete) {
      int k = key();
      if (!composite_.Has(k)) fresh = k;
    }
    if (op == Op::kInsert && fresh) {
      out->push_back(fmt::format("INSERT INTO wl.composite VALUES ({}, '{}', {})", *fresh / 10,
                                 kB[*fresh % 10], rng_.Below(100)));
      composite_.Add(*fresh);
      return;
    }
    if (composite_.size() == 0) return;
    int k = composite_.Pick(rng_);
    if (op == Op::kDelete) {
      out->push_back("DELETE FROM wl.composite WHERE " + where(k));
      composite_.Remove(k);
    } else if (fresh && rng_.OneIn(2)) {
      out->push_back(fmt::format("UPDATE wl.composite SET a = {}, b = '{}' WHERE {}", *fresh / 10,
                                 kB[*fresh % 10], where(k)));
      composite_.Remove(k);
      composite_.Add(*fresh);
    } else {
      out->push_back(fmt::format("UPDATE wl.composite SET v = v + 1 WHERE {}", where(k)));
    }
  }

  // The same key in another case now and then.
  std::string Spelling(int key) { return fmt::format("{}ey{}", rng_.OneIn(3) ? "K" : "k", key); }

  void Uk(int room, std::vector<std::string>* out) {
    Op op = Choose(uk_.size(), 1500);
    if (op == Op::kInsert) {
      std::optional<int> key = Free(uk_, 1500);
      if (key) {
        uk_spelling_[*key] = Spelling(*key);
        out->push_back(fmt::format("INSERT INTO wl.uk VALUES ('{}', {})", uk_spelling_[*key],
                                   rng_.Below(100)));
        uk_.Add(*key);
        return;
      }
    }
    if (uk_.size() == 0) return;
    int key = uk_.Pick(rng_);
    // A finds the row in another case than it was written: the key is case-insensitive.
    const std::string at = fmt::format("u = '{}'", Spelling(key));
    if (op == Op::kDelete) {
      out->push_back("DELETE FROM wl.uk WHERE " + at);
      uk_.Remove(key);
      return;
    }
    int other = uk_.Pick(rng_);
    if (room >= 3 && other != key && rng_.OneIn(3)) {
      out->push_back(fmt::format("UPDATE wl.uk SET u = 'tmp' WHERE {}", at));
      out->push_back(fmt::format("UPDATE wl.uk SET u = '{}' WHERE u = '{}'", Spelling(key),
                                 uk_spelling_[other]));
      out->push_back(fmt::format("UPDATE wl.uk SET u = '{}' WHERE u = 'tmp'", Spelling(other)));
      return;  // the keys stay; the rows' v swap
    }
    std::optional<int> to = Free(uk_, 1500);
    if (to && rng_.OneIn(2)) {
      uk_spelling_[*to] = Spelling(*to);
      out->push_back(fmt::format("UPDATE wl.uk SET u = '{}' WHERE {}", uk_spelling_[*to], at));
      uk_.Remove(key);
      uk_.Add(*to);
      return;
    }
    out->push_back(fmt::format("UPDATE wl.uk SET v = v + 1 WHERE {}", at));
  }

  // Rows of nuk: non-NULL u are unique, NULL ones are found by (NULL, v).
  void Nuk(std::vector<std::string>* out) {
    Op op = Choose(nuk_.size(), 1500);
    if (op == Op::kInsert) {
      std::optional<int> u = rng_.OneIn(3) ? std::nullopt : Free(nuk_u_, 1000);
      int v = rng_.Below(20);
      if (u) nuk_u_.insert(*u);
      nuk_.push_back({u, v});
      out->push_back(fmt::format("INSERT INTO wl.nuk VALUES ({}, {})", Nullable(u), v));
      return;
    }
    size_t i = static_cast<size_t>(rng_.Below(static_cast<int>(nuk_.size())));
    auto& [u, v] = nuk_[i];
    const std::string at =
        u ? fmt::format("u = {}", *u) : fmt::format("u IS NULL AND v = {} LIMIT 1", v);
    if (op == Op::kDelete) {
      out->push_back("DELETE FROM wl.nuk WHERE " + at);
      if (u) nuk_u_.erase(*u);
      nuk_[i] = nuk_.back();
      nuk_.pop_back();
      return;
    }
    if (rng_.OneIn(2)) {
      std::optional<int> to = rng_.OneIn(3) ? std::nullopt : Free(nuk_u_, 1000);
      if (to == u) to = Free(nuk_u_, 1000);
      if (to == u) return;
      out->push_back(fmt::format("UPDATE wl.nuk SET u = {} WHERE {}", Nullable(to), at));
      if (u) nuk_u_.erase(*u);
      if (to) nuk_u_.insert(*to);
      u = to;
    } else {
      v = (v + 1 + rng_.Below(19)) % 20;
      out->push_back(fmt::format("UPDATE wl.nuk SET v = {} WHERE {}", v, at));
    }
  }

  // Rows of nokey, duplicates among them: one of equal rows is as good as another.
  void Nokey(std::vector<std::string>* out) {
    Op op = Choose(nokey_.size(), 2000);
    auto y = [&]() -> std::optional<int> {
      if (rng_.OneIn(5)) return std::nullopt;
      return rng_.Below(5);
    };
    auto text = [](const std::optional<int>& y) {
      return y ? fmt::format("'y{}'", *y) : std::string("NULL");
    };
    if (op == Op::kInsert) {
      nokey_.push_back({rng_.Below(200), y()});
      out->push_back(fmt::format("INSERT INTO wl.nokey VALUES ({}, {})", nokey_.back().first,
                                 text(nokey_.back().second)));
      return;
    }
    size_t i = static_cast<size_t>(rng_.Below(static_cast<int>(nokey_.size())));
    auto& [x, yv] = nokey_[i];
    const std::string at = fmt::format("x = {} AND y <=> {} LIMIT 1", x, text(yv));
    if (op == Op::kDelete) {
      out->push_back("DELETE FROM wl.nokey WHERE " + at);
      nokey_[i] = nokey_.back();
      nokey_.pop_back();
      return;
    }
    std::optional<int> to = y();
    if (to == yv) to = yv ? std::nullopt : std::optional<int>(0);
    out->push_back(fmt::format("UPDATE wl.nokey SET y = {} WHERE {}", text(to), at));
    yv = to;
  }

  Rng rng_;
  std::unordered_map<int, PkRow> pk_;
  KeySet<int> pk_ids_;
  std::unordered_set<int> pk_u_;
  KeySet<int> composite_;  // a * 10 + index of b
  KeySet<int> uk_;         // the key's number
  std::unordered_map<int, std::string> uk_spelling_;
  std::vector<std::pair<std::optional<int>, int>> nuk_;
  std::unordered_set<int> nuk_u_;
  std::vector<std::pair<int, std::optional<int>>> nokey_;
};

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

class WorkloadTest : public TwoServersTest {};

TEST_F(WorkloadTest, HundredThousandRandomChangesInEveryConfiguration) {
  constexpr int kChanges = 100000;
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_OK(a_->Exec(Workload::kSchema));
  Workload w(20240601);
  int changes = 0;
  while (changes < kChanges) ASSERT_OK(a_->Exec(w.Transaction(&changes)));
  for (const char* t : {"pk", "composite", "uk", "nuk", "nokey"}) {
    EXPECT_EQ(*a_->QueryValue(fmt::format("SELECT COUNT(*) FROM wl.{}", t)),
              std::to_string(w.Rows(t)))
        << t << ": the workload's model and A disagree";
  }
  double written = Seconds(t0);
  std::vector<pb::Binlog> binlogs = Archive();
  ASSERT_GE(RowChanges(binlogs), static_cast<size_t>(kChanges));
  std::string times =
      fmt::format("written in {:.1f} s, archived in {:.1f} s", written, Seconds(t0) - written);
  for (bool safe : {false, true}) {
    for (int workers : {1, 16}) {
      SCOPED_TRACE(fmt::format("{} workers, safe mode {}", workers, safe ? "on" : "off"));
      ASSERT_OK(b_->Exec("DROP DATABASE IF EXISTS wl; DROP DATABASE IF EXISTS tidb_binlog"));
      auto start = std::chrono::steady_clock::now();
      auto st = Replay(binlogs, b_.get(), workers, safe);
      ASSERT_TRUE(st.ok()) << st.status().ToString();
      times +=
          fmt::format("; {} workers{}: {:.1f} s", workers, safe ? " safe" : "", Seconds(start));
      EXPECT_EQ(st->rows, RowChanges(binlogs));
      ExpectSameDatabase(a_.get(), b_.get(), "wl");
    }
  }
  RecordProperty("times", times);
  std::cout << times << "\n";
}

// Parents, their children and the children's toys, linked by foreign keys (ON DELETE RESTRICT):
// a child is inserted after its parent, a toy after its child, and deleted before them, each in
// a transaction of its own, so 16 workers would break a foreign key at once if they let a
// change to one table pass a change to a linked one. Notes go with their parent (ON DELETE
// CASCADE): A's binlog does not carry what the cascade deletes, B's own cascade must.
class FamilyWorkload {
 public:
  static constexpr const char* kSchema =
      "CREATE DATABASE fk; "
      "CREATE TABLE fk.parent (id INT PRIMARY KEY, v INT); "
      "CREATE TABLE fk.child (id INT PRIMARY KEY, parent_id INT NOT NULL, v INT, "
      "  FOREIGN KEY (parent_id) REFERENCES fk.parent (id) ON DELETE RESTRICT); "
      "CREATE TABLE fk.toy (id INT PRIMARY KEY, child_id INT NOT NULL, "
      "  FOREIGN KEY (child_id) REFERENCES fk.child (id) ON DELETE RESTRICT); "
      "CREATE TABLE fk.note (id INT PRIMARY KEY, parent_id INT NOT NULL, "
      "  FOREIGN KEY (parent_id) REFERENCES fk.parent (id) ON DELETE CASCADE)";

  explicit FamilyWorkload(uint64_t seed) : rng_(seed) {}

  // One change, committed on its own.
  std::string Transaction(int* changes) {
    std::vector<std::string> stmts;
    while (stmts.empty()) Change(&stmts);
    ++*changes;
    return stmts[0];
  }

 private:
  void Change(std::vector<std::string>* out) {
    // Half the changes are to parents that stay: they keep a worker busy with parents while
    // children of a new parent could get ahead of it on another.
    if (rng_.OneIn(2) && parents_.size() > 0) {
      out->push_back(
          fmt::format("UPDATE fk.parent SET v = v + 1 WHERE id = {}", parents_.Pick(rng_)));
      return;
    }
    int r = rng_.Below(100);
    if (r < 15 || parents_.size() == 0) {
      // Ids come back after their parent is gone: a new parent with an old id.
      int id = 1 + rng_.Below(200);
      if (parents_.Has(id)) return;
      parents_.Add(id);
      out->push_back(fmt::format("INSERT INTO fk.parent VALUES ({}, {})", id, rng_.Below(100)));
    } else if (r < 40) {
      int id = 1 + rng_.Below(600);
      if (children_.Has(id)) return;
      int parent = parents_.Pick(rng_);
      children_.Add(id);
      parent_of_[id] = parent;
      out->push_back(fmt::format("INSERT INTO fk.child VALUES ({}, {}, 0)", id, parent));
    } else if (r < 55 && children_.size() > 0) {
      int id = 1 + rng_.Below(1000);
      if (toys_.Has(id)) return;
      int child = children_.Pick(rng_);
      toys_.Add(id);
      child_of_[id] = child;
      out->push_back(fmt::format("INSERT INTO fk.toy VALUES ({}, {})", id, child));
    } else if (r < 65 && children_.size() > 0) {  // a child moves to another parent
      int id = children_.Pick(rng_);
      int to = parents_.Pick(rng_);
      if (to == parent_of_[id]) return;
      parent_of_[id] = to;
      out->push_back(fmt::format("UPDATE fk.child SET parent_id = {} WHERE id = {}", to, id));
    } else if (r < 70) {
      int id = 1 + rng_.Below(1000);
      if (notes_.Has(id)) return;
      int parent = parents_.Pick(rng_);
      notes_.Add(id);
      note_parent_[id] = parent;
      out->push_back(fmt::format("INSERT INTO fk.note VALUES ({}, {})", id, parent));
    } else if (r < 80 && toys_.size() > 0) {
      int id = toys_.Pick(rng_);
      toys_.Remove(id);
      out->push_back(fmt::format("DELETE FROM fk.toy WHERE id = {}", id));
    } else if (r < 92 && children_.size() > 0) {  // a child without toys goes
      int id = children_.Pick(rng_);
      for (const auto& [toy, child] : child_of_) {
        if (child == id && toys_.Has(toy)) return;
      }
      children_.Remove(id);
      out->push_back(fmt::format("DELETE FROM fk.child WHERE id = {}", id));
    } else {  // a parent without children goes
      int id = parents_.Pick(rng_);
      for (const auto& [child, parent] : parent_of_) {
        if (parent == id && children_.Has(child)) return;
      }
      parents_.Remove(id);
      for (const auto& [note, parent] : note_parent_) {
        if (parent == id && notes_.Has(note)) notes_.Remove(note);
      }
      out->push_back(fmt::format("DELETE FROM fk.parent WHERE id = {}", id));
    }
  }

  Rng rng_;
  KeySet<int> parents_, children_, toys_, notes_;
  std::unordered_map<int, int> parent_of_, child_of_, note_parent_;
};

class ForeignKeyTest : public TwoServersTest {
 protected:
  void ReplayFamilies(bool safe) {
    ASSERT_OK(a_->Exec(FamilyWorkload::kSchema));
    FamilyWorkload w(7);
    int changes = 0;
    while (changes < 30000) ASSERT_OK(a_->Exec(w.Transaction(&changes)));
    ASSERT_NE(*a_->QueryValue("SELECT COUNT(*) FROM fk.note"), "0");
    std::vector<pb::Binlog> binlogs = Archive();
    ASSERT_GE(RowChanges(binlogs), 30000u);
    auto st = Replay(binlogs, b_.get(), 16, safe);
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    EXPECT_EQ(st->rows, RowChanges(binlogs));
    ExpectSameDatabase(a_.get(), b_.get(), "fk");
  }
};

TEST_F(ForeignKeyTest, LinkedTablesKeepTheirOrderWithSixteenWorkers) { ReplayFamilies(false); }

// Safe mode's DELETE + REPLACE would delete a parent that has children (RESTRICT refuses it,
// CASCADE takes the children along): on tables in a foreign key it updates in place and upserts.
TEST_F(ForeignKeyTest, LinkedTablesInSafeMode) { ReplayFamilies(true); }

}  // namespace
}  // namespace binlog::replay::testing
