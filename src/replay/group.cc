// Planning a group's statements, merged where the end state allows.
#include "replay/group.h"

#include <fmt/format.h>

#include <algorithm>
#include <unordered_map>

#include "common/text.h"
#include "replay/conflict.h"

namespace binlog::replay {
namespace {

struct TxnPlan {
  std::vector<PlannedStatement> statements;
  std::vector<std::string> row_keys;  // exclusive keys of the rows it touches, sorted, unique
  bool whole_table = false;           // it takes a table (or a foreign-key link) exclusive
};

Status PlanTxn(const pb::Binlog& b, const TableLookup& tables, const SqlOptions& options,
               bool want_keys, TxnPlan* plan) {
  std::vector<Statement> built;
  std::vector<ConflictKey> keys;
  for (const pb::TableChanges& t : b.tables()) {
    Result<std::shared_ptr<const TableSchema>> table = tables(t);
    Status s = table.status();
    if (s.ok()) s = BuildStatements(t, **table, options, &built);
    if (!s.ok()) {
      return s.WithContext(fmt::format("commit ts {}, table `{}`.`{}`", b.commit_ts(),
                                       Printable(t.schema_name()), Printable(t.table_name())));
    }
    const std::string name = t.schema_name() + "." + t.table_name();
    for (Statement& st : built) {
      plan->statements.push_back(
          PlannedStatement{std::move(st), static_cast<uint64_t>(b.commit_ts()), name});
    }
    built.clear();
    if (want_keys) ConflictKeys(t, **table, &keys);
  }
  for (const ConflictKey& k : keys) {
    if (!k.exclusive) continue;
    if (k.key.starts_with("k:")) {
      plan->row_keys.push_back(k.key);
    } else {
      plan->whole_table = true;
    }
  }
  std::sort(plan->row_keys.begin(), plan->row_keys.end());
  plan->row_keys.erase(std::unique(plan->row_keys.begin(), plan->row_keys.end()),
                       plan->row_keys.end());
  return Status::OK();
}

// Whether no row is touched by two of the transactions.
bool Commute(const std::vector<TxnPlan>& plans) {
  std::unordered_map<std::string_view, size_t> owner;
  for (size_t i = 0; i < plans.size(); ++i) {
    if (plans[i].whole_table) return false;
    for (const std::string& k : plans[i].row_keys) {
      if (!owner.emplace(k, i).second) return false;
    }
  }
  return true;
}

}  // namespace

Status PlanGroup(std::span<const pb::Binlog* const> txns, const TableLookup& tables,
                 const SqlOptions& options, bool merge, std::vector<PlannedStatement>* out) {
  const bool may_reorder = merge && txns.size() > 1;
  std::vector<TxnPlan> plans(txns.size());
  for (size_t i = 0; i < txns.size(); ++i) {
    RETURN_IF_ERROR(PlanTxn(*txns[i], tables, options, may_reorder, &plans[i]));
  }
  auto append = [&](PlannedStatement&& p) {
    if (merge && !out->empty() &&
        MergeStatements(&out->back().statement, p.statement, options.max_statement_bytes)) {
      return;
    }
    out->push_back(std::move(p));
  };
  if (!may_reorder || !Commute(plans)) {
    for (TxnPlan& plan : plans) {
      for (PlannedStatement& p : plan.statements) append(std::move(p));
    }
    return Status::OK();
  }
  // Any order ends the same: a one-statement transaction joins the open statement with its head.
  std::unordered_map<std::string, size_t> open;  // merge identity -> index in out
  for (TxnPlan& plan : plans) {
    if (plan.statements.size() != 1 || MergeIdentity(plan.statements[0].statement).empty()) {
      for (PlannedStatement& p : plan.statements) append(std::move(p));
      continue;
    }
    PlannedStatement& p = plan.statements[0];
    std::string head(MergeIdentity(p.statement));
    auto it = open.find(head);
    if (it != open.end() && MergeStatements(&(*out)[it->second].statement, p.statement,
                                            options.max_statement_bytes)) {
      continue;
    }
    append(std::move(p));
    open[std::move(head)] = out->size() - 1;
  }
  return Status::OK();
}

}  // namespace binlog::replay
