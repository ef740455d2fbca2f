#include "syncer/syncer_test_util.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>

#include "common/env.h"
#include "journal/journal.h"
#include "syncer/upstream.h"
#include "testutil/archive.h"

namespace binlog::syncer::testing {

UpstreamOptions ReplicaOptions(MariaDBServer* server, uint32_t server_id) {
  UpstreamOptions o;
  o.host = server->host();
  o.port = server->port();
  o.user = MariaDBServer::kReplUser;
  o.password = MariaDBServer::kReplPassword;
  o.server_id = server_id;
  o.flavor = "mariadb";
  o.heartbeat_seconds = 0.2;
  return o;
}

BinlogPosition EndOfBinlog(MariaDBServer* server) {
  BinlogPosition p;
  auto rows = server->Query("SHOW MASTER STATUS");
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  if (rows.ok() && !rows->empty()) {
    p.name = *(*rows)[0][0];
    p.pos = std::stoull(*(*rows)[0][1]);
  }
  return p;
}

void JoinPart(pb::Binlog* whole, pb::Binlog* part) {
  for (pb::TableChanges& t : *part->mutable_tables()) {
    // A part cut inside a table's changes repeats its head: the whole record has them as one.
    if (whole->tables_size() > 0) {
      pb::TableChanges* last = whole->mutable_tables(whole->tables_size() - 1);
      if (last->schema_name() == t.schema_name() && last->table_name() == t.table_name()) {
        for (pb::TableMutation& m : *t.mutable_mutations()) last->add_mutations()->Swap(&m);
        continue;
      }
    }
    whole->add_tables()->Swap(&t);
  }
  *whole->mutable_source() = part->source();
}

Result<RawEvents> ReadRawEvents(MariaDBServer* server, const BinlogPosition& from,
                                size_t transactions, double timeout_seconds) {
  ASSIGN_OR_RETURN(auto up, Upstream::Connect(ReplicaOptions(server)));
  RETURN_IF_ERROR(up->StartDump(from));
  RawEvents out;
  out.checksum = up->info().checksum;
  StreamDecoder decoder(from, out.checksum, 0, up->info().server_id);
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int>(timeout_seconds * 1000));
  size_t done = 0;
  std::vector<StreamItem> items;
  while (done < transactions) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::TimedOut(fmt::format("{} of {} transactions read", done, transactions));
    }
    ASSIGN_OR_RETURN(std::string_view raw, up->Fetch());
    out.events.emplace_back(raw);
    items.clear();
    RETURN_IF_ERROR(decoder.Feed(raw, 0, &items));
    for (const StreamItem& i : items) {
      done += i.kind == StreamItem::kTransaction && i.ends_transaction();
    }
  }
  return out;
}

pb::Binlog ParseItem(const StreamItem& item) {
  pb::Binlog b;
  std::string_view p = item.payload();
  EXPECT_TRUE(b.ParseFromArray(p.data(), static_cast<int>(p.size())));
  EXPECT_EQ(b.SerializeAsString(), p) << "the decoder's bytes are not protobuf's";
  EXPECT_EQ(static_cast<uint64_t>(b.commit_ts()), item.commit_ts);
  return b;
}

Result<std::vector<pb::Binlog>> ReadTransactions(MariaDBServer* server, const BinlogPosition& from,
                                                 size_t transactions, double timeout_seconds) {
  ASSIGN_OR_RETURN(auto up, Upstream::Connect(ReplicaOptions(server)));
  RETURN_IF_ERROR(up->StartDump(from));
  StreamDecoder decoder(from, up->info().checksum, 0, up->info().server_id);
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int>(timeout_seconds * 1000));
  std::vector<pb::Binlog> out;
  std::vector<StreamItem> items;
  size_t done = 0;  // transactions ended (a big one's parts are joined in out)
  while (done < transactions) {
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::TimedOut(fmt::format("{} of {} transactions read", done, transactions));
    }
    ASSIGN_OR_RETURN(std::string_view raw, up->Fetch());
    items.clear();
    RETURN_IF_ERROR(decoder.Feed(raw, 0, &items));
    for (const StreamItem& i : items) {
      if (i.kind != StreamItem::kTransaction) continue;
      pb::Binlog b = ParseItem(i);
      if (segment::PartIndex(i.part) == 0) {
        out.push_back(std::move(b));
      } else {
        JoinPart(&out.back(), &b);
      }
      done += i.ends_transaction();
    }
  }
  return out;
}

Result<std::vector<pb::Binlog>> ReadArchive(const std::string& dir) {
  journal::ReadOptions ro;
  ASSIGN_OR_RETURN(auto reader, journal::JournalReader::Open(Env::Posix(), dir, ro));
  std::vector<pb::Binlog> out;
  journal::Record rec;
  bool open = false;  // the last binlog of out is a transaction whose last part is to come
  while (true) {
    ASSIGN_OR_RETURN(bool more, reader->Next(&rec));
    if (!more) break;
    pb::Binlog b;
    if (!b.ParseFromArray(rec.payload.data(), static_cast<int>(rec.payload.size()))) {
      return Status::Corruption(fmt::format("record ts {} is not a binlog", rec.ts));
    }
    if (static_cast<uint64_t>(b.commit_ts()) != rec.ts) {
      return Status::Corruption(
          fmt::format("record ts {} holds commit_ts {}", rec.ts, b.commit_ts()));
    }
    const uint32_t index = segment::PartIndex(rec.part);
    if (open != (index > 0) || (open && rec.ts != static_cast<uint64_t>(out.back().commit_ts()))) {
      return Status::Corruption(
          fmt::format("record ts {} (part tag {}) breaks the sequence of "
                      "parts",
                      rec.ts, rec.part));
    }
    if (index == 0) {
      out.push_back(std::move(b));
    } else {
      JoinPart(&out.back(), &b);
    }
    open = !segment::IsLastPart(rec.part);
  }
  if (open) return Status::Corruption("the archive ends inside a transaction");
  return out;
}

SyncerConfig TestConfig(MariaDBServer* server, const std::string& dir) {
  return binlog::testing::TestSyncerConfig(server, dir + "/syncer.meta", dir + "/archive");
}

std::optional<std::string> ValueText(const pb::Value& v) {
  switch (v.value_case()) {
    case pb::Value::kIsNull:
      return std::nullopt;
    case pb::Value::kInt64Value:
      return std::to_string(v.int64_value());
    case pb::Value::kUint64Value:
      return std::to_string(v.uint64_value());
    case pb::Value::kDoubleValue:
      return fmt::format("{}", v.double_value());
    case pb::Value::kBytesValue:
      return v.bytes_value();
    case pb::Value::kStringValue:
      return v.string_value();
    case pb::Value::kDecimalValue:
      return v.decimal_value();
    default:
      return std::string("<absent>");
  }
}

int ColumnIndex(const pb::TableChanges& table, const std::string& name) {
  for (int i = 0; i < table.columns_size(); ++i) {
    if (table.columns(i).name() == name) return i;
  }
  ADD_FAILURE() << "no column " << name << " in " << table.table_name();
  return -1;
}

void ExpectRowMatches(const pb::TableChanges& table, const pb::Row& row, const SqlRow& selected,
                      const std::vector<ColumnCheck>& checks, const std::string& row_id) {
  ASSERT_EQ(row.columns_size(), table.columns_size());
  ASSERT_EQ(selected.size(), checks.size());
  for (size_t k = 0; k < checks.size(); ++k) {
    const ColumnCheck& c = checks[k];
    int i = ColumnIndex(table, c.name);
    if (i < 0) continue;
    const pb::Value& v = row.columns(i);
    const std::optional<std::string>& want = selected[k];
    std::string where = fmt::format("{}.{} row id={}", table.table_name(), c.name, row_id);
    if (!want) {
      EXPECT_EQ(v.value_case(), pb::Value::kIsNull) << where << " got " << v.ShortDebugString();
      continue;
    }
    ASSERT_NE(v.value_case(), pb::Value::kIsNull) << where << " want " << *want;
    switch (c.compare) {
      case Compare::kText:
        EXPECT_EQ(ValueText(v).value_or("NULL"), *want) << where;
        break;
      case Compare::kDouble:
        ASSERT_EQ(v.value_case(), pb::Value::kDoubleValue) << where;
        EXPECT_EQ(v.double_value(), std::strtod(want->c_str(), nullptr)) << where << " " << *want;
        break;
      case Compare::kBitInteger: {
        uint64_t got = 0;
        if (v.value_case() == pb::Value::kBytesValue) {
          for (char ch : v.bytes_value()) got = (got << 8) | static_cast<uint8_t>(ch);
        } else {
          got = static_cast<uint64_t>(v.int64_value());
        }
        EXPECT_EQ(std::to_string(got), *want) << where;
        break;
      }
      case Compare::kHex: {
        std::string hex;
        for (char ch : ValueText(v).value_or(""))
          hex += fmt::format("{:02X}", static_cast<uint8_t>(ch));
        EXPECT_EQ(hex, *want) << where;
        break;
      }
    }
  }
}

std::vector<SqlRow> SelectRows(MariaDBServer* server, const std::string& table,
                               const std::vector<ColumnCheck>& checks) {
  std::string cols;
  for (const ColumnCheck& c : checks) cols += (cols.empty() ? "" : ", ") + c.select;
  auto rows = server->Query(fmt::format("SELECT {} FROM {} ORDER BY id", cols, table));
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  return rows.ok() ? *rows : std::vector<SqlRow>{};
}

namespace {

std::string IdOf(const pb::TableChanges& table, const pb::Row& row) {
  int i = ColumnIndex(table, "id");
  return i < 0 ? "" : ValueText(row.columns(i)).value_or("NULL");
}

const SqlRow* FindRow(const std::vector<SqlRow>& rows, const std::string& id) {
  for (const SqlRow& r : rows) {
    if (r[0] && *r[0] == id) return &r;
  }
  return nullptr;
}

}  // namespace

pb::TableChanges RunTypeCase(MariaDBServer* server, const TypeCase& c) {
  std::string table = "types." + c.table;
  EXPECT_OK(server->Exec("CREATE DATABASE IF NOT EXISTS types"));
  EXPECT_OK(server->Exec("DROP TABLE IF EXISTS " + table));
  EXPECT_OK(server->Exec(fmt::format(
      "CREATE TABLE {} (id INT PRIMARY KEY, {}) DEFAULT CHARSET = utf8mb4", table, c.columns)));
  EXPECT_OK(server->Exec(c.session));
  BinlogPosition from = EndOfBinlog(server);
  EXPECT_OK(server->Exec(fmt::format("INSERT INTO {} VALUES {}", table, c.insert_values)));
  std::vector<SqlRow> inserted = SelectRows(server, table, c.checks);
  EXPECT_OK(server->Exec(fmt::format("UPDATE {} SET {} WHERE id <= 2", table, c.update_set)));
  std::vector<SqlRow> updated = SelectRows(server, table, c.checks);
  EXPECT_OK(server->Exec(fmt::format("DELETE FROM {} WHERE id >= 2", table)));
  EXPECT_OK(server->Exec("SET SESSION sql_mode = DEFAULT"));

  Result<std::vector<pb::Binlog>> items = ReadTransactions(server, from, 3);
  EXPECT_TRUE(items.ok()) << items.status().ToString();
  if (!items.ok() || items->size() != 3) return {};
  for (const pb::Binlog& item : *items) {
    EXPECT_EQ(item.tables_size(), 1) << item.ShortDebugString().substr(0, 300);
    if (item.tables_size() != 1) return {};
    EXPECT_EQ(item.tables(0).schema_name(), "types");
    EXPECT_EQ(item.tables(0).table_name(), c.table);
  }
  const pb::TableChanges& ins = (*items)[0].tables(0);
  EXPECT_EQ(ins.mutations_size(), static_cast<int>(inserted.size()));
  for (const pb::TableMutation& m : ins.mutations()) {
    EXPECT_EQ(m.type(), pb::INSERT);
    std::string id = IdOf(ins, m.row());
    const SqlRow* want = FindRow(inserted, id);
    EXPECT_NE(want, nullptr) << "inserted id " << id;
    if (want) ExpectRowMatches(ins, m.row(), *want, c.checks, "insert " + id);
  }
  const pb::TableChanges& upd = (*items)[1].tables(0);
  EXPECT_GT(upd.mutations_size(), 0);
  for (const pb::TableMutation& m : upd.mutations()) {
    EXPECT_EQ(m.type(), pb::UPDATE);
    std::string id = IdOf(upd, m.row());
    const SqlRow* before = FindRow(inserted, id);
    const SqlRow* after = FindRow(updated, id);
    EXPECT_TRUE(before && after) << "updated id " << id;
    if (before) ExpectRowMatches(upd, m.before(), *before, c.checks, "before " + id);
    if (after) ExpectRowMatches(upd, m.row(), *after, c.checks, "after " + id);
  }
  const pb::TableChanges& del = (*items)[2].tables(0);
  EXPECT_EQ(del.mutations_size(), static_cast<int>(updated.size()) - 1);
  for (const pb::TableMutation& m : del.mutations()) {
    EXPECT_EQ(m.type(), pb::DELETE);
    std::string id = IdOf(del, m.row());
    const SqlRow* want = FindRow(updated, id);
    EXPECT_NE(want, nullptr) << "deleted id " << id;
    if (want) ExpectRowMatches(del, m.row(), *want, c.checks, "delete " + id);
  }
  return ins;
}

}  // namespace binlog::syncer::testing
