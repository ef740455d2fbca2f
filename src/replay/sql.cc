// Planning the statements of one table's row changes.
#include "replay/sql.h"

#include <fmt/format.h>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <cctype>

#include "common/text.h"

namespace binlog::replay {

namespace {

using pb::Value;

bool Present(const Value& v) { return v.value_case() != Value::VALUE_NOT_SET; }

bool SameValue(const Value& a, const Value& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

// How the record's columns map onto the destination table's, by name.
struct ColumnMap {
  std::vector<int> to_dest;    // record column -> destination column
  std::vector<int> to_record;  // destination column -> record column, -1 when the record has none
  std::vector<bool> written;   // record column -> a value statements write or match on
};

Result<ColumnMap> MapColumns(const pb::TableChanges& changes, const TableSchema& table) {
  ColumnMap m;
  m.to_record.assign(table.columns.size(), -1);
  for (int i = 0; i < changes.columns_size(); ++i) {
    int d = table.ColumnIndex(changes.columns(i).name());
    if (d < 0) {
      return Status::InvalidArgument(fmt::format(
          "column `{}` of `{}`.`{}` is not in the destination's table (a DDL the destination "
          "did not get?)",
          Printable(changes.columns(i).name()), table.db, table.table));
    }
    m.to_dest.push_back(d);
    m.to_record[d] = i;
    m.written.push_back(!table.columns[d].generated);
  }
  return m;
}

// The key's values in `row`, or false when the row image lacks one of its columns.
bool KeyValues(const KeySchema& key, const ColumnMap& map, const pb::Row& row,
               std::vector<const Value*>* values) {
  values->clear();
  for (int d : key.columns) {
    int r = map.to_record[d];
    if (r < 0 || r >= row.columns_size() || !Present(row.columns(r))) return false;
    values->push_back(&row.columns(r));
  }
  return true;
}

// "(a, b)" or "a": the key's column list as a WHERE ... IN takes it.
void AppendKeyColumns(const KeySchema& key, const TableSchema& table, std::string* out) {
  if (key.columns.size() > 1) out->push_back('(');
  for (size_t i = 0; i < key.columns.size(); ++i) {
    if (i > 0) out->append(", ");
    AppendIdentifier(table.columns[key.columns[i]].name, out);
  }
  if (key.columns.size() > 1) out->push_back(')');
}

Status AppendKeyTuple(const KeySchema& key, const TableSchema& table,
                      const std::vector<const Value*>& values, std::string* out) {
  if (values.size() > 1) out->push_back('(');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out->append(", ");
    RETURN_IF_ERROR(AppendColumnLiteral(*values[i], table.columns[key.columns[i]], out));
  }
  if (values.size() > 1) out->push_back(')');
  return Status::OK();
}

// WHERE ... matching `row`: by the row key when the image has it, else on every column the
// image has (NULL-safe), LIMIT 1 added by the caller.
Status AppendWhere(const TableSchema& table, const ColumnMap& map, const pb::TableChanges& changes,
                   const pb::Row& row, bool* by_key, std::string* out) {
  std::vector<const Value*> values;
  const KeySchema* key = table.RowKey();
  *by_key = key != nullptr && KeyValues(*key, map, row, &values);
  out->append(" WHERE ");
  if (*by_key) {
    for (size_t i = 0; i < key->columns.size(); ++i) {
      if (i > 0) out->append(" AND ");
      AppendIdentifier(table.columns[key->columns[i]].name, out);
      out->append(" = ");
      RETURN_IF_ERROR(AppendColumnLiteral(*values[i], table.columns[key->columns[i]], out));
    }
    return Status::OK();
  }
  bool first = true;
  for (int r = 0; r < row.columns_size() && r < changes.columns_size(); ++r) {
    if (!Present(row.columns(r)) || !map.written[r]) continue;
    if (!first) out->append(" AND ");
    first = false;
    AppendIdentifier(changes.columns(r).name(), out);
    out->append(" <=> ");
    RETURN_IF_ERROR(AppendColumnLiteral(row.columns(r), table.columns[map.to_dest[r]], out));
  }
  if (first) return Status::InvalidArgument("a row image with no column to find the row by");
  return Status::OK();
}

// Plans one table's changes; statements accumulate in `out`.
class Planner {
 public:
  Planner(const pb::TableChanges& changes, const TableSchema& table, const ColumnMap& map,
          const SqlOptions& options, std::vector<Statement>* out)
      : changes_(changes), table_(table), map_(map), options_(options), out_(out) {}

  Status Run() {
    for (const pb::TableMutation& m : changes_.mutations()) {
      switch (m.type()) {
        case pb::INSERT:
          RETURN_IF_ERROR(Insert(m.row()));
          break;
        case pb::DELETE:
          RETURN_IF_ERROR(Delete(m.row()));
          break;
        case pb::UPDATE:
          RETURN_IF_ERROR(Update(m));
          break;
        default:
          return Status::InvalidArgument(
              fmt::format("unknown mutation type {}", static_cast<int>(m.type())));
      }
    }
    Flush();
    return Status::OK();
  }

 private:
  void Flush() {
    if (!open_) return;
    if (current_.kind == Statement::Kind::kDeleteIn) current_.sql.push_back(')');
    if (relax_open_) Relax(&current_);
    out_->push_back(std::move(current_));
    current_ = Statement{};
    open_ = false;
    relax_open_ = false;
  }

  // An ENUM value a non-strict upstream stored for a string that is no member (index 0, read
  // as ''): a strict session refuses to write it back, so its statement runs without strict
  // mode (MariaDB's SET STATEMENT).
  bool NeedsRelax(const pb::Row& row) const {
    for (int r = 0; r < row.columns_size() && r < changes_.columns_size(); ++r) {
      const Value& v = row.columns(r);
      if (v.value_case() == Value::kStringValue && v.string_value().empty() &&
          table_.columns[map_.to_dest[r]].data_type == "enum") {
        return true;
      }
    }
    return false;
  }
  static void Relax(Statement* st) {
    static constexpr std::string_view kPrefix =
        "SET STATEMENT sql_mode = 'NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION' FOR ";
    st->sql.insert(0, kPrefix);
    if (st->kind != Statement::Kind::kOther) st->head += kPrefix.size();
  }

  // Opens a multi-row statement with `head` unless the open one has it and room.
  void Open(Statement::Kind kind, std::string head) {
    if (open_ && current_.kind == kind && current_.sql.compare(0, current_.head, head) == 0 &&
        current_.head == head.size() && current_.sql.size() < options_.max_statement_bytes) {
      current_.sql.append(", ");
      return;
    }
    Flush();
    open_ = true;
    current_.kind = kind;
    current_.head = head.size();
    current_.sql = std::move(head);
  }

  // What an UPDATE or DELETE is checked to match: nothing in safe mode.
  uint64_t Expect(uint64_t rows) const { return options_.safe_mode ? 0 : rows; }

  void Emit(std::string sql, uint64_t rows, const pb::Row& row) {
    out_->emplace_back();
    out_->back().sql = std::move(sql);
    out_->back().rows = Expect(rows);
    if (NeedsRelax(row)) Relax(&out_->back());
  }

  // The columns an INSERT names: those the row image has.
  std::string InsertHead(const pb::Row& row, std::string_view verb) const {
    std::string head(verb);
    AppendTable(table_, &head);
    head.append(" (");
    bool first = true;
    for (int r = 0; r < row.columns_size() && r < changes_.columns_size(); ++r) {
      if (!Present(row.columns(r)) || !map_.written[r]) continue;
      if (!first) head.append(", ");
      first = false;
      AppendIdentifier(changes_.columns(r).name(), &head);
    }
    head.append(") VALUES ");
    return head;
  }

  Status AppendValues(const pb::Row& row, std::string* sql) const {
    sql->push_back('(');
    bool first = true;
    for (int r = 0; r < row.columns_size() && r < changes_.columns_size(); ++r) {
      if (!Present(row.columns(r)) || !map_.written[r]) continue;
      if (!first) sql->append(", ");
      first = false;
      RETURN_IF_ERROR(AppendColumnLiteral(row.columns(r), table_.columns[map_.to_dest[r]], sql));
    }
    sql->push_back(')');
    return Status::OK();
  }

  // Safe mode's INSERT is a REPLACE, or an upsert on a table in a foreign key (a REPLACE of a
  // parent deletes it first, which its children's ON DELETE rule refuses or cascades).
  Status Insert(const pb::Row& row) {
    if (options_.safe_mode && !table_.linked_tables.empty()) {
      Flush();
      return Upsert(row);
    }
    Open(Statement::Kind::kInsert,
         InsertHead(row, options_.safe_mode ? "REPLACE INTO " : "INSERT INTO "));
    relax_open_ = relax_open_ || NeedsRelax(row);
    return AppendValues(row, &current_.sql);
  }

  Status Delete(const pb::Row& row) {
    const KeySchema* key = table_.RowKey();
    std::vector<const Value*> values;
    if (key == nullptr || !KeyValues(*key, map_, row, &values)) {
      Flush();
      return DeleteOne(row);
    }
    std::string head = "DELETE FROM ";
    AppendTable(table_, &head);
    head.append(" WHERE ");
    AppendKeyColumns(*key, table_, &head);
    head.append(" IN (");
    Open(Statement::Kind::kDeleteIn, std::move(head));
    relax_open_ = relax_open_ || NeedsRelax(row);
    current_.rows += Expect(1);
    return AppendKeyTuple(*key, table_, values, &current_.sql);
  }

  Status DeleteOne(const pb::Row& row) {
    std::string sql = "DELETE FROM ";
    AppendTable(table_, &sql);
    bool by_key = false;
    RETURN_IF_ERROR(AppendWhere(table_, map_, changes_, row, &by_key, &sql));
    if (!by_key) sql.append(" LIMIT 1");
    Emit(std::move(sql), 1, row);
    return Status::OK();
  }

  // A key change is an UPDATE too: the destination's ON UPDATE actions and triggers then
  // follow, as they did upstream (a DELETE would run the ON DELETE ones).
  Status Update(const pb::TableMutation& m) {
    Flush();
    if (options_.safe_mode && table_.linked_tables.empty()) {
      RETURN_IF_ERROR(DeleteOne(m.before()));
      RETURN_IF_ERROR(Insert(m.row()));
      Flush();
      return Status::OK();
    }
    // Safe mode on a table in a foreign key: a DELETE or REPLACE of a parent would cascade or be
    // refused, so the row is moved in place if there and then made to exist.
    std::vector<int> set;  // the record's columns the UPDATE sets
    for (int r = 0; r < m.row().columns_size() && r < changes_.columns_size(); ++r) {
      const Value& after = m.row().columns(r);
      if (!Present(after) || !map_.written[r]) continue;
      if (!options_.safe_mode && r < m.before().columns_size() &&
          SameValue(after, m.before().columns(r)) && !table_.columns[map_.to_dest[r]].on_update) {
        continue;
      }
      set.push_back(r);
    }
    if (!set.empty()) RETURN_IF_ERROR(Keyed(m, set) ? UpdateByKey(m, set) : UpdateOne(m, set));
    return options_.safe_mode ? Upsert(m.row()) : Status::OK();
  }

  Status UpdateOne(const pb::TableMutation& m, const std::vector<int>& set) {
    std::string sql = "UPDATE ";
    AppendTable(table_, &sql);
    sql.append(" SET ");
    for (size_t i = 0; i < set.size(); ++i) {
      if (i > 0) sql.append(", ");
      AppendIdentifier(changes_.columns(set[i]).name(), &sql);
      sql.append(" = ");
      RETURN_IF_ERROR(
          AppendColumnLiteral(m.row().columns(set[i]), table_.columns[map_.to_dest[set[i]]], &sql));
    }
    bool by_key = false;
    RETURN_IF_ERROR(AppendWhere(table_, map_, changes_, m.before(), &by_key, &sql));
    if (!by_key) sql.append(" LIMIT 1");
    Emit(std::move(sql), 1, NeedsRelax(m.before()) ? m.before() : m.row());
    return Status::OK();
  }

  // Whether the UPDATE may join others (KeyedUpdates): it finds its row by a single integer key
  // it leaves as it is, on a table with no other unique key (rows updated in another order could
  // collide there) and in no foreign key, and sets columns whose CASE is their direct assignment.
  bool Keyed(const pb::TableMutation& m, const std::vector<int>& set) const {
    if (options_.safe_mode || !table_.linked_tables.empty() || table_.unique_keys.size() != 1 ||
        table_.row_key != 0 || table_.unique_keys[0].columns.size() != 1) {
      return false;
    }
    const int d = table_.unique_keys[0].columns[0];
    const int r = map_.to_record[d];
    if (!IsIntegerType(table_.columns[d].data_type) || r < 0 || r >= m.before().columns_size()) {
      return false;
    }
    const Value& key = m.before().columns(r);
    if (key.value_case() != Value::kInt64Value && key.value_case() != Value::kUint64Value) {
      return false;
    }
    if (r < m.row().columns_size() && Present(m.row().columns(r)) &&
        !SameValue(key, m.row().columns(r))) {
      return false;
    }
    if (NeedsRelax(m.before()) || NeedsRelax(m.row())) return false;
    return std::all_of(set.begin(), set.end(), [&](int c) {
      return CaseKeepsType(table_.columns[map_.to_dest[c]].data_type);
    });
  }

  Status UpdateByKey(const pb::TableMutation& m, const std::vector<int>& set) {
    Statement st;
    st.kind = Statement::Kind::kUpdateByKey;
    st.rows = Expect(1);
    KeyedUpdates& u = st.updates;
    AppendTable(table_, &u.table);
    const int d = table_.unique_keys[0].columns[0];
    AppendIdentifier(table_.columns[d].name, &u.key);
    u.keys.emplace_back();
    RETURN_IF_ERROR(
        AppendColumnLiteral(m.before().columns(map_.to_record[d]), table_.columns[d], &u.keys[0]));
    u.identity = u.table + '\0' + u.key;
    for (int r : set) {
      const Value& after = m.row().columns(r);
      u.columns.emplace_back();
      AppendIdentifier(changes_.columns(r).name(), &u.columns.back());
      u.values.emplace_back();
      RETURN_IF_ERROR(AppendColumnLiteral(after, table_.columns[map_.to_dest[r]], &u.values.back()));
      // The CASE's type is its values' (NULL aside): one kind per column keeps it the column's.
      fmt::format_to(std::back_inserter(u.identity), "{}{}:{}", '\0', u.columns.back(),
                     static_cast<int>(after.value_case()));
    }
    RenderKeyedUpdates(u, &st.sql);
    out_->push_back(std::move(st));
    return Status::OK();
  }

  // INSERT ... ON DUPLICATE KEY UPDATE: safe mode's INSERT on a table in a foreign key.
  Status Upsert(const pb::Row& row) {
    std::string sql = InsertHead(row, "INSERT INTO ");
    RETURN_IF_ERROR(AppendValues(row, &sql));
    sql.append(" ON DUPLICATE KEY UPDATE ");
    bool first = true;
    for (int r = 0; r < row.columns_size() && r < changes_.columns_size(); ++r) {
      if (!Present(row.columns(r)) || !map_.written[r]) continue;
      if (!first) sql.append(", ");
      first = false;
      AppendIdentifier(changes_.columns(r).name(), &sql);
      sql.append(" = VALUES(");
      AppendIdentifier(changes_.columns(r).name(), &sql);
      sql.push_back(')');
    }
    Emit(std::move(sql), 0, row);
    return Status::OK();
  }

  const pb::TableChanges& changes_;
  const TableSchema& table_;
  const ColumnMap& map_;
  const SqlOptions& options_;
  std::vector<Statement>* out_;
  bool open_ = false;
  bool relax_open_ = false;  // the open statement needs Relax
  Statement current_;
};

}  // namespace

Status BuildStatements(const pb::TableChanges& changes, const TableSchema& table,
                       const SqlOptions& options, std::vector<Statement>* out) {
  ASSIGN_OR_RETURN(ColumnMap map, MapColumns(changes, table));
  return Planner(changes, table, map, options, out).Run();
}

}  // namespace binlog::replay
