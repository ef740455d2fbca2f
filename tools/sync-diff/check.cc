// Checksums of a chunk on both servers, and its rows when they differ.
#include "sync-diff/check.h"

#include <fmt/format.h>

#include <charconv>
#include <thread>

#include "sync-diff/chunk.h"
#include "sync-diff/diff.h"

namespace binlog::syncdiff {

namespace {

struct Sum {
  uint64_t rows = 0;
  std::optional<std::string> sum;  // SUM's text: exact, wider than 64 bits
  bool operator==(const Sum&) const = default;
};

Result<Sum> Checksum(mysql::Connection* conn, const TablePlan& t, const KeyRange& r,
                     const char* side) {
  Result<std::vector<mysql::Row>> rows = conn->Query(ChecksumSql(t, r));
  if (!rows.ok()) return rows.status().WithContext(fmt::format("checksum on the {}", side));
  Sum s;
  if (rows->empty() || rows->front().size() < 2 || !rows->front()[0]) {
    return Status::InvalidArgument(fmt::format("the checksum on the {} returned no count", side));
  }
  const std::string& count = *rows->front()[0];
  std::from_chars(count.data(), count.data() + count.size(), s.rows);
  s.sum = rows->front()[1];
  return s;
}

}  // namespace

Result<std::unique_ptr<mysql::Connection>> OpenServer(const mysql::ConnectOptions& options,
                                                      const char* side) {
  Result<std::unique_ptr<mysql::Connection>> c = mysql::Connection::Open(options);
  if (!c.ok()) return c.status().WithContext(fmt::format("cannot connect to the {}", side));
  return c;
}

Result<bool> TableChecksumsEqual(mysql::Connection* source, mysql::Connection* target,
                                 const TablePlan& t) {
  const std::string sql = "CHECKSUM TABLE " + t.Name();
  Result<std::vector<mysql::Row>> on_target = Status::Aborted("not run");
  std::thread other([&] { on_target = target->Query(sql); });
  Result<std::vector<mysql::Row>> on_source = source->Query(sql);
  other.join();
  if (!on_source.ok()) return on_source.status().WithContext("CHECKSUM TABLE on the source");
  if (!on_target.ok()) return on_target.status().WithContext("CHECKSUM TABLE on the target");
  // NULL: the server could not read the table; the chunks will say why.
  auto value = [](const std::vector<mysql::Row>& rows) {
    return rows.empty() || rows[0].size() < 2 ? std::nullopt : rows[0][1];
  };
  return value(*on_source).has_value() && value(*on_source) == value(*on_target);
}

Result<std::unique_ptr<Checker>> Checker::Open(const SyncDiffConfig& config) {
  ASSIGN_OR_RETURN(auto source, OpenServer(config.source, "source"));
  ASSIGN_OR_RETURN(auto target, OpenServer(config.target, "target"));
  return std::unique_ptr<Checker>(
      new Checker(std::move(source), std::move(target), config.chunk_size));
}

Status Checker::Check(const TablePlan& t, const KeyRange& range, ChunkOutcome* out) {
  return CheckOne(t, range, true, out);
}

Status Checker::CheckOne(const TablePlan& t, const KeyRange& range, bool may_cut,
                         ChunkOutcome* out) {
  ASSIGN_OR_RETURN(Sum s, Checksum(source_.get(), t, range, "source"));
  ASSIGN_OR_RETURN(Sum d, Checksum(target_.get(), t, range, "target"));
  if (s == d) {
    out->chunks++;
    out->rows += s.rows;
    return Status::OK();
  }
  if (may_cut && !t.key.empty() && s.rows > 2 * chunk_size_) {
    ASSIGN_OR_RETURN(auto chunker, Chunker::Make(t, source_.get(), nullptr, chunk_size_, range));
    KeyRange part;
    for (;;) {
      ASSIGN_OR_RETURN(bool more, chunker->Next(&part));
      if (!more) return Status::OK();
      RETURN_IF_ERROR(CheckOne(t, part, false, out));
    }
  }
  out->chunks++;
  out->rows += s.rows;
  return CompareRows(t, range, out);
}

Status Checker::CompareRows(const TablePlan& t, const KeyRange& range, ChunkOutcome* out) {
  const std::string sql = RowsSql(t, range);
  Result<std::vector<mysql::Row>> source = source_->Query(sql);
  if (!source.ok()) return source.status().WithContext("read rows on the source");
  Result<std::vector<mysql::Row>> target = target_->Query(sql);
  if (!target.ok()) return target.status().WithContext("read rows on the target");
  out->reread++;
  for (const RowDiff& d : DiffRows(t, *source, *target)) {
    (d.kind == RowDiff::Kind::kMissing ? out->missing
     : d.kind == RowDiff::Kind::kExtra ? out->extra
                                       : out->changed)++;
    AppendDiffText(t, d, &out->text);
    AppendFixSql(t, d, &out->deletes, &out->writes);
  }
  return Status::OK();
}

}  // namespace binlog::syncdiff
