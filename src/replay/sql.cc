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

void AppendQuoted(std::string_view s, std::string* out) {
  out->push_back('\'');
  for (char c : s) {
    switch (c) {
      case '\0':
        out->append("\\0");
        break;
      case '\'':
        out->append("\\'");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\x1a':
        out->append("\\Z");
        break;
      default:
        out->push_back(c);
    }
  }
  out->push_back('\'');
}

bool IsDecimalText(std::string_view s) {
  size_t i = s.size() > 0 && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  bool digits = false, dot = false;
  for (; i < s.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(s[i]))) {
      digits = true;
    } else if (s[i] == '.' && !dot) {
      dot = true;
    } else {
      return false;
    }
  }
  return digits;
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

void AppendTable(const TableSchema& table, std::string* out) {
  AppendIdentifier(table.db, out);
  out->push_back('.');
  AppendIdentifier(table.table, out);
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

// A value as a literal for `column`. A BIT value too wide for int64 is carried as its bytes,
// which BIT stores but never compares equal to (a string is compared as a number): it goes as
// the unsigned integer it is.
Status AppendColumnLiteral(const Value& v, const ColumnSchema& column, std::string* out) {
  if (v.value_case() == Value::kBytesValue && column.data_type == "bit" &&
      v.bytes_value().size() <= 8) {
    uint64_t n = 0;
    for (char c : v.bytes_value()) n = (n << 8) | static_cast<uint8_t>(c);
    fmt::format_to(std::back_inserter(*out), "{}", n);
    return Status::OK();
  }
  return AppendLiteral(v, out);
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
    out_->push_back(std::move(current_));
    current_ = Statement{};
    open_ = false;
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

  void Emit(std::string sql, uint64_t rows) {
    out_->push_back(Statement{std::move(sql), Statement::Kind::kOther, 0, Expect(rows)});
  }

  // The columns an INSERT names: those the row image has.
  std::string InsertHead(const pb::Row& row) const {
    std::string head = options_.safe_mode ? "REPLACE INTO " : "INSERT INTO ";
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

  Status Insert(const pb::Row& row) {
    Open(Statement::Kind::kInsert, InsertHead(row));
    std::string& sql = current_.sql;
    sql.push_back('(');
    bool first = true;
    for (int r = 0; r < row.columns_size() && r < changes_.columns_size(); ++r) {
      if (!Present(row.columns(r)) || !map_.written[r]) continue;
      if (!first) sql.append(", ");
      first = false;
      RETURN_IF_ERROR(AppendColumnLiteral(row.columns(r), table_.columns[map_.to_dest[r]], &sql));
    }
    sql.push_back(')');
    return Status::OK();
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
    current_.rows += Expect(1);
    return AppendKeyTuple(*key, table_, values, &current_.sql);
  }

  Status DeleteOne(const pb::Row& row) {
    std::string sql = "DELETE FROM ";
    AppendTable(table_, &sql);
    bool by_key = false;
    RETURN_IF_ERROR(AppendWhere(table_, map_, changes_, row, &by_key, &sql));
    if (!by_key) sql.append(" LIMIT 1");
    Emit(std::move(sql), 1);
    return Status::OK();
  }

  // Whether the update moves the row to another value of a unique key.
  bool ChangesAUniqueKey(const pb::TableMutation& m) const {
    for (const KeySchema& key : table_.unique_keys) {
      for (int d : key.columns) {
        int r = map_.to_record[d];
        if (r < 0 || r >= m.row().columns_size() || r >= m.before().columns_size()) continue;
        const Value& a = m.before().columns(r);
        const Value& b = m.row().columns(r);
        if (Present(a) && Present(b) && !SameValue(a, b)) return true;
      }
    }
    return false;
  }

  Status Update(const pb::TableMutation& m) {
    Flush();
    if (options_.safe_mode || ChangesAUniqueKey(m)) {
      RETURN_IF_ERROR(DeleteOne(m.before()));
      RETURN_IF_ERROR(Insert(m.row()));
      Flush();
      return Status::OK();
    }
    std::string sql = "UPDATE ";
    AppendTable(table_, &sql);
    sql.append(" SET ");
    bool any = false;
    for (int r = 0; r < m.row().columns_size() && r < changes_.columns_size(); ++r) {
      const Value& after = m.row().columns(r);
      if (!Present(after) || !map_.written[r]) continue;
      if (r < m.before().columns_size() && SameValue(after, m.before().columns(r)) &&
          !table_.columns[map_.to_dest[r]].on_update) {
        continue;
      }
      if (any) sql.append(", ");
      any = true;
      AppendIdentifier(changes_.columns(r).name(), &sql);
      sql.append(" = ");
      RETURN_IF_ERROR(AppendColumnLiteral(after, table_.columns[map_.to_dest[r]], &sql));
    }
    if (!any) return Status::OK();  // nothing changes
    bool by_key = false;
    RETURN_IF_ERROR(AppendWhere(table_, map_, changes_, m.before(), &by_key, &sql));
    if (!by_key) sql.append(" LIMIT 1");
    Emit(std::move(sql), 1);
    return Status::OK();
  }

  const pb::TableChanges& changes_;
  const TableSchema& table_;
  const ColumnMap& map_;
  const SqlOptions& options_;
  std::vector<Statement>* out_;
  bool open_ = false;
  Statement current_;
};

}  // namespace

void AppendIdentifier(std::string_view name, std::string* out) {
  out->push_back('`');
  for (char c : name) {
    if (c == '`') out->push_back('`');
    out->push_back(c);
  }
  out->push_back('`');
}

Status AppendLiteral(const Value& v, std::string* out) {
  switch (v.value_case()) {
    case Value::kIsNull:
      out->append("NULL");
      return Status::OK();
    case Value::kInt64Value:
      fmt::format_to(std::back_inserter(*out), "{}", v.int64_value());
      return Status::OK();
    case Value::kUint64Value:
      fmt::format_to(std::back_inserter(*out), "{}", v.uint64_value());
      return Status::OK();
    case Value::kDoubleValue:
      // fmt's shortest form parses back to the same double; a FLOAT was widened exactly.
      fmt::format_to(std::back_inserter(*out), "{}", v.double_value());
      return Status::OK();
    case Value::kDecimalValue:
      if (!IsDecimalText(v.decimal_value())) {
        return Status::InvalidArgument(
            fmt::format("DECIMAL value \"{}\" is not a number", Printable(v.decimal_value())));
      }
      out->append(v.decimal_value());
      return Status::OK();
    case Value::kStringValue:
      AppendQuoted(v.string_value(), out);
      return Status::OK();
    case Value::kBytesValue:
      out->append("_binary");
      AppendQuoted(v.bytes_value(), out);
      return Status::OK();
    case Value::VALUE_NOT_SET:
      break;
  }
  return Status::InvalidArgument("a column absent from the row image has no value to write");
}

Status BuildStatements(const pb::TableChanges& changes, const TableSchema& table,
                       const SqlOptions& options, std::vector<Statement>* out) {
  ASSIGN_OR_RETURN(ColumnMap map, MapColumns(changes, table));
  return Planner(changes, table, map, options, out).Run();
}

bool MergeStatements(Statement* into, const Statement& next, size_t max_bytes) {
  if (into->kind == Statement::Kind::kOther || into->kind != next.kind ||
      into->head != next.head || into->sql.size() + next.sql.size() > max_bytes ||
      into->sql.compare(0, into->head, next.sql, 0, next.head) != 0) {
    return false;
  }
  if (into->kind == Statement::Kind::kDeleteIn) into->sql.pop_back();  // its ')'
  into->sql.append(", ");
  into->sql.append(next.sql, next.head);
  into->rows += next.rows;
  return true;
}

}  // namespace binlog::replay
