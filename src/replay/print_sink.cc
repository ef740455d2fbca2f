// The print sink, FormatBinlog and FormatValue (replay.h): TiDB-Binlog Reparo's print output, which
// operators know, with a line for the commit ts and values that say what they are.
//
// Each transaction (one binlog), exactly (testdata/golden/replay/print.txt shows all of it):
//
//   # commit ts 445644800262144001 (2023-11-14 22:13:20.000000 UTC)
//   DDL schema: shop                              only when ddl_schema is set
//   DDL query: CREATE TABLE t (id int)            when ddl_query is set; before the rows
//   schema: shop; table: t; type: Insert          one block per row change, in order
//   id(int): 1                                    name(mysql_type): value, each column
//   schema: shop; table: t; type: Update
//   id(int): 1 => 2                               old => new
//   schema: shop; table: t; type: Delete
//   id(int): 2
//
// A transaction in parts prints each part's rows under a header of its own, "# commit ts ...
// (...), part 3": the text of a big transaction is never held whole.
//
// Values: NULL; integers and decimals as their digits; doubles in the shortest text that reads
// back the same (1.5, 1e+300, nan, inf); strings double-quoted with \" \\ \n \r \t and \xNN for
// other control characters (C1 included) and for bytes that are not UTF-8; bytes (binary
// columns, non-UTF-8 charsets) as 0x and lower-case hex (0x for none); <absent> for a column the
// row image left out (MINIMAL/NOBLOB), <unknown> for a value kind newer than this build,
// <is_null=false> for a Value that says it is not NULL and nothing else. Names, types, decimal
// text and the DDL query are printed unquoted with the same escapes except \" and \\ (so a
// query reads as written). A row holding more values than the table has columns shows the extra
// ones as @N(?), N counting from 0; a mutation type newer than this build prints as
// type: Unknown(N). A ts whose datetime cannot be shown prints without it.
#include <fmt/format.h>
#include <google/protobuf/unknown_field_set.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <ostream>

#include "common/text.h"
#include "common/tso.h"
#include "replay/replay.h"

namespace binlog::replay {
namespace {

void AppendEscaped(std::string* out, std::string_view s, bool quoted) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = Utf8SequenceLength(s, i);
    const auto b = static_cast<unsigned char>(s[i]);
    const bool c1 = n == 2 && b == 0xC2 && static_cast<unsigned char>(s[i + 1]) < 0xA0;
    if (n > 1 && !c1) {
      out->append(s.substr(i, n));
      i += n;
      continue;
    }
    if (n == 1 && quoted && (b == '"' || b == '\\')) {
      out->push_back('\\');
      out->push_back(static_cast<char>(b));
    } else if (b == '\n') {
      *out += "\\n";
    } else if (b == '\r') {
      *out += "\\r";
    } else if (b == '\t') {
      *out += "\\t";
    } else if (n == 1 && b >= 0x20 && b != 0x7F) {
      out->push_back(static_cast<char>(b));
    } else {
      *out += fmt::format("\\x{:02x}", b);
    }
    ++i;
  }
}

std::string Plain(std::string_view s) {
  std::string out;
  AppendEscaped(&out, s, false);
  return out;
}

void AppendHex(std::string* out, std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  *out += "0x";
  for (char ch : bytes) {
    const auto b = static_cast<unsigned char>(ch);
    out->push_back(kDigits[b >> 4]);
    out->push_back(kDigits[b & 0xF]);
  }
}

void AppendValue(std::string* out, const pb::Value& v) {
  switch (v.value_case()) {
    case pb::Value::kIsNull:
      *out += v.is_null() ? "NULL" : "<is_null=false>";
      return;
    case pb::Value::kInt64Value:
      fmt::format_to(std::back_inserter(*out), "{}", v.int64_value());
      return;
    case pb::Value::kUint64Value:
      fmt::format_to(std::back_inserter(*out), "{}", v.uint64_value());
      return;
    case pb::Value::kDoubleValue:
      fmt::format_to(std::back_inserter(*out), "{}", v.double_value());
      return;
    case pb::Value::kBytesValue:
      AppendHex(out, v.bytes_value());
      return;
    case pb::Value::kStringValue:
      out->push_back('"');
      AppendEscaped(out, v.string_value(), true);
      out->push_back('"');
      return;
    case pb::Value::kDecimalValue:
      AppendEscaped(out, v.decimal_value(), false);
      return;
    case pb::Value::VALUE_NOT_SET:
      break;
  }
  // A writer newer than this build may have set a kind this build does not know.
  const bool unknown = !v.GetReflection()->GetUnknownFields(v).empty();
  *out += unknown ? "<unknown>" : "<absent>";
}

const char* TypeName(pb::MutationType type) {
  switch (type) {
    case pb::INSERT:
      return "Insert";
    case pb::UPDATE:
      return "Update";
    case pb::DELETE:
      return "Delete";
    default:
      return nullptr;
  }
}

void AppendMutation(std::string* out, const pb::TableChanges& t, const pb::TableMutation& m) {
  const char* type = TypeName(m.type());
  fmt::format_to(std::back_inserter(*out), "schema: {}; table: {}; type: {}\n",
                 Plain(t.schema_name()), Plain(t.table_name()),
                 type != nullptr ? type : fmt::format("Unknown({})", static_cast<int>(m.type())));
  const bool update = m.type() == pb::UPDATE;
  const pb::Value absent;
  const int n =
      std::max({t.columns_size(), m.row().columns_size(), update ? m.before().columns_size() : 0});
  for (int i = 0; i < n; ++i) {
    if (i < t.columns_size()) {
      const pb::ColumnInfo& c = t.columns(i);
      fmt::format_to(std::back_inserter(*out), "{}({}): ", Plain(c.name()), Plain(c.mysql_type()));
    } else {
      fmt::format_to(std::back_inserter(*out), "@{}(?): ", i);
    }
    if (update) {
      AppendValue(out, i < m.before().columns_size() ? m.before().columns(i) : absent);
      *out += " => ";
    }
    AppendValue(out, i < m.row().columns_size() ? m.row().columns(i) : absent);
    out->push_back('\n');
  }
}

// `part`: the header of a part of a transaction in parts ("..., part 3").
void AppendHeader(std::string* out, const pb::Binlog& b, std::optional<uint32_t> part = {}) {
  const int64_t ts = b.commit_ts();
  Result<std::string> datetime = Status::InvalidArgument("negative");
  if (ts >= 0) datetime = FormatTSDatetime(static_cast<uint64_t>(ts), "UTC");
  if (datetime.ok()) {
    fmt::format_to(std::back_inserter(*out), "# commit ts {} ({} UTC)", ts, *datetime);
  } else {
    fmt::format_to(std::back_inserter(*out), "# commit ts {}", ts);
  }
  if (part) fmt::format_to(std::back_inserter(*out), ", part {}", *part);
  out->push_back('\n');
}

void AppendDdl(std::string* out, const pb::Binlog& b) {
  if (!b.ddl_schema().empty()) *out += "DDL schema: " + Plain(b.ddl_schema()) + "\n";
  *out += "DDL query: " + Plain(b.ddl_query()) + "\n";
}

void AppendRows(std::string* out, const pb::Binlog& b) {
  for (const pb::TableChanges& t : b.tables()) {
    for (const pb::TableMutation& m : t.mutations()) AppendMutation(out, t, m);
  }
}

class PrintSink;

class PrintWorker : public SinkWorker {
 public:
  explicit PrintWorker(PrintSink* sink) : sink_(sink) {}
  Status Apply(std::span<const pb::Binlog* const> txns) override;
  Status ApplyDdl(const pb::Binlog& ddl) override;
  Status ApplyStep(const pb::Binlog& changes, const Step& step) override;

 private:
  PrintSink* sink_;
  // The part whose header was printed last: a part cut into several steps prints one.
  int64_t header_ts_ = -1;
  uint32_t header_part_ = 0;
};

class PrintSink : public Sink {
 public:
  explicit PrintSink(std::ostream* out) : out_(out) {}
  int MaxWorkers() const override { return 1; }
  // One worker: nothing to keep apart.
  Status ConflictKeys(const pb::Binlog&, std::vector<ConflictKey>*) override {
    return Status::OK();
  }
  Result<std::unique_ptr<SinkWorker>> NewWorker() override {
    return std::unique_ptr<SinkWorker>(std::make_unique<PrintWorker>(this));
  }
  Result<ResumeState> LoadResume() override { return ResumeState{}; }
  Status AdvanceLow(uint64_t) override { return Status::OK(); }

  // Writes and flushes text whole; workers do not interleave.
  Status Write(const std::string& text) {
    std::lock_guard lock(mu_);
    out_->write(text.data(), static_cast<std::streamsize>(text.size()));
    out_->flush();
    // Not transient: output that is gone (a closed pipe) does not come back with a retry.
    if (!out_->good()) return Status::Aborted("writing the printed changes failed");
    return Status::OK();
  }

 private:
  std::mutex mu_;
  std::ostream* out_;
};

// A DDL and the rows of one binlog may be applied by separate calls (replay.h), so each prints
// its own part under the transaction's header.
Status PrintWorker::Apply(std::span<const pb::Binlog* const> txns) {
  std::string text;
  for (const pb::Binlog* b : txns) {
    AppendHeader(&text, *b);
    AppendRows(&text, *b);
  }
  return sink_->Write(text);
}

Status PrintWorker::ApplyDdl(const pb::Binlog& ddl) {
  std::string text;
  AppendHeader(&text, ddl);
  AppendDdl(&text, ddl);
  return sink_->Write(text);
}

// A part's rows under one header, whatever steps it is cut into; a part with no row left after
// the filter prints nothing.
Status PrintWorker::ApplyStep(const pb::Binlog& changes, const Step& step) {
  if (changes.tables_size() == 0) return Status::OK();
  std::string text;
  if (changes.commit_ts() != header_ts_ || step.part != header_part_) {
    AppendHeader(&text, changes, step.part);
    header_ts_ = changes.commit_ts();
    header_part_ = step.part;
  }
  AppendRows(&text, changes);
  return sink_->Write(text);
}

}  // namespace

std::unique_ptr<Sink> NewPrintSink(std::ostream* out) { return std::make_unique<PrintSink>(out); }

std::string FormatBinlog(const pb::Binlog& binlog) {
  std::string out;
  AppendHeader(&out, binlog);
  if (!binlog.ddl_query().empty()) AppendDdl(&out, binlog);
  AppendRows(&out, binlog);
  return out;
}

std::string FormatValue(const pb::Value& v) {
  std::string out;
  AppendValue(&out, v);
  return out;
}

}  // namespace binlog::replay
