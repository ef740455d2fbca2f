// Filter (filter.h): TiDB-Binlog's pkg/filter rules (the drainer's; Reparo's are the same).
//
// What TiDB-Binlog does, and what is kept of it here:
// - A rule value starting with '~' is a regular expression, compiled case-insensitively and
//   matched UNANCHORED (Go's regexp.MatchString): "~^shop" selects shop and shop_eu, "~shop"
//   also selects eshop. Write ^...$ to match a whole name. RE2's syntax is Go's.
// - Any other value is a name. TiDB-Binlog compiles it too, as "(?i)^name$" without quoting, so
//   "a.b" also matched "axb" and "a$b" matched nothing; here it is compared as the exact name
//   (ASCII letters case-insensitively; other letters by RE2's Unicode case folding).
// - A table is selected when no do-rule is set, or a replicate-do-table rule matches both its
//   names, or a replicate-do-db matches its schema. It is then dropped when a
//   replicate-ignore-table rule matches both names or its schema is a replicate-ignore-db or
//   ignore-schemas value (the drainer passes ignore-schemas as ignore-dbs, regexes included).
// - An empty value is refused (the drainer refuses it in its config), as it matches nothing.
//
// Accepts caches its answers per (schema, table) when a rule is a regular expression; the cache
// is guarded by a shared mutex, so a Filter may be used by several threads at once.
#include "replay/filter.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <unordered_set>

#include "common/text.h"

namespace binlog::replay {
namespace {

char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Hashing and equality of names with ASCII letters folded, so exact names are looked up without
// building a lower-case copy.
struct FoldedHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    uint64_t h = 14695981039346656037ull;  // FNV-1a
    for (char c : s) h = (h ^ static_cast<unsigned char>(AsciiLower(c))) * 1099511628211ull;
    return static_cast<size_t>(h);
  }
};
struct FoldedEq {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
    }
    return true;
  }
};
using FoldedSet = std::unordered_set<std::string, FoldedHash, FoldedEq>;

// One value of a rule: an ASCII name, or a regular expression (a '~' value, matched anywhere in
// the name; or a name with other characters, matched whole so RE2 folds its case).
class NamePattern {
 public:
  // `what` names the rule in errors: "replicate-do-table tbl-name".
  static Result<NamePattern> Make(std::string_view value, std::string_view what) {
    NamePattern p;
    if (value.empty()) return Status::InvalidArgument(fmt::format("{}: an empty name", what));
    std::string regex;
    if (value[0] == '~') {
      regex = std::string(value.substr(1));
    } else if (IsAscii(value)) {
      p.exact_ = std::string(value);
      return p;
    } else {
      regex = RE2::QuoteMeta(re2::StringPiece(value.data(), value.size()));
      p.whole_ = true;
    }
    RE2::Options options;
    options.set_case_sensitive(false);
    options.set_log_errors(false);
    options.set_never_capture(true);
    p.re_ = std::make_unique<RE2>(regex, options);
    if (!p.re_->ok()) {
      return Status::InvalidArgument(
          fmt::format("{} \"{}\": not a regular expression RE2 accepts: {}", what, Printable(value),
                      p.re_->error()));
    }
    return p;
  }

  bool is_regex() const { return re_ != nullptr; }
  const std::string& exact() const { return exact_; }

  bool Matches(std::string_view name) const {
    if (!re_) return FoldedEq()(exact_, name);
    const re2::StringPiece text(name.data(), name.size());
    return whole_ ? RE2::FullMatch(text, *re_) : RE2::PartialMatch(text, *re_);
  }

 private:
  std::string exact_;
  std::unique_ptr<RE2> re_;
  bool whole_ = false;
};

// A list of schema names: exact ones in a hash set, the rest tried in turn.
class NameList {
 public:
  Status Add(std::string_view value, std::string_view what) {
    ASSIGN_OR_RETURN(NamePattern p, NamePattern::Make(value, what));
    if (p.is_regex()) {
      regexes_.push_back(std::move(p));
    } else {
      exact_.insert(p.exact());
    }
    return Status::OK();
  }
  bool empty() const { return exact_.empty() && regexes_.empty(); }
  bool has_regex() const { return !regexes_.empty(); }
  bool Matches(std::string_view name) const {
    if (exact_.find(name) != exact_.end()) return true;
    return std::any_of(regexes_.begin(), regexes_.end(),
                       [&](const NamePattern& p) { return p.Matches(name); });
  }

 private:
  FoldedSet exact_;
  std::vector<NamePattern> regexes_;
};

struct TablePattern {
  NamePattern db;
  NamePattern table;
  bool Matches(std::string_view d, std::string_view t) const {
    return db.Matches(d) && table.Matches(t);
  }
};

Status AddTables(const std::vector<TableRule>& rules, std::string_view what,
                 std::vector<TablePattern>* out) {
  for (const TableRule& r : rules) {
    ASSIGN_OR_RETURN(NamePattern db, NamePattern::Make(r.db, fmt::format("{} db-name", what)));
    ASSIGN_OR_RETURN(NamePattern t, NamePattern::Make(r.table, fmt::format("{} tbl-name", what)));
    out->push_back(TablePattern{std::move(db), std::move(t)});
  }
  return Status::OK();
}

bool AnyMatches(const std::vector<TablePattern>& rules, std::string_view db, std::string_view t) {
  return std::any_of(rules.begin(), rules.end(),
                     [&](const TablePattern& r) { return r.Matches(db, t); });
}

bool AnyHasRegex(const std::vector<TablePattern>& rules) {
  return std::any_of(rules.begin(), rules.end(),
                     [](const TablePattern& r) { return r.db.is_regex() || r.table.is_regex(); });
}

// Cache keys: (schema, table) as given, looked up without a copy.
struct CacheKey {
  std::string db, table;
};
struct CacheKeyView {
  std::string_view db, table;
};
struct CacheHash {
  using is_transparent = void;
  size_t operator()(const CacheKeyView& k) const {
    const std::hash<std::string_view> h;
    return h(k.db) * 31 + h(k.table);
  }
  size_t operator()(const CacheKey& k) const { return (*this)(CacheKeyView{k.db, k.table}); }
};
struct CacheEq {
  using is_transparent = void;
  static CacheKeyView View(const CacheKey& k) { return {k.db, k.table}; }
  static CacheKeyView View(const CacheKeyView& k) { return k; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    return View(a).db == View(b).db && View(a).table == View(b).table;
  }
};

// Past this many distinct tables the answers are computed each time rather than kept: a stream
// of ever new names must not grow the cache without bound.
constexpr size_t kMaxCached = 1 << 16;

}  // namespace

struct Filter::Impl {
  NameList do_dbs;
  std::vector<TablePattern> do_tables;
  NameList ignore_dbs;  // replicate-ignore-db and ignore-schemas
  std::vector<TablePattern> ignore_tables;
  bool cached = false;

  mutable std::shared_mutex mu;
  mutable std::unordered_map<CacheKey, bool, CacheHash, CacheEq> cache;

  bool has_do() const { return !do_dbs.empty() || !do_tables.empty(); }
  bool empty() const { return !has_do() && ignore_dbs.empty() && ignore_tables.empty(); }

  bool Compute(std::string_view db, std::string_view table) const {
    const bool selected = !has_do() || AnyMatches(do_tables, db, table) || do_dbs.Matches(db);
    return selected && !AnyMatches(ignore_tables, db, table) && !ignore_dbs.Matches(db);
  }

  bool Accepts(std::string_view db, std::string_view table) const {
    if (!cached) return Compute(db, table);
    const CacheKeyView key{db, table};
    {
      std::shared_lock lock(mu);
      auto it = cache.find(key);
      if (it != cache.end()) return it->second;
    }
    const bool accepted = Compute(db, table);
    std::unique_lock lock(mu);
    if (cache.size() < kMaxCached)
      cache.emplace(CacheKey{std::string(db), std::string(table)}, accepted);
    return accepted;
  }

  // A database-level statement: the schema is one a do-rule selects (a do-table rule selects
  // the schema of its tables) and no db rule ignores it. Ignore-table rules do not apply:
  // ignoring some tables must not drop the database the others live in. (Reparo's filter also
  // lets an ignore-table rule whose db-name matches drop the database.)
  bool AcceptsDatabase(std::string_view db) const {
    const bool selected = !has_do() || do_dbs.Matches(db) ||
                          std::any_of(do_tables.begin(), do_tables.end(),
                                      [&](const TablePattern& r) { return r.db.Matches(db); });
    return selected && !ignore_dbs.Matches(db);
  }
};

Result<Filter> Filter::Make(const FilterRules& rules) {
  auto impl = std::make_unique<Impl>();
  for (const std::string& db : rules.do_dbs) {
    RETURN_IF_ERROR(impl->do_dbs.Add(db, "replicate-do-db"));
  }
  RETURN_IF_ERROR(AddTables(rules.do_tables, "replicate-do-table", &impl->do_tables));
  for (const std::string& db : rules.ignore_dbs) {
    RETURN_IF_ERROR(impl->ignore_dbs.Add(db, "replicate-ignore-db"));
  }
  for (const std::string& db : rules.ignore_schemas) {
    RETURN_IF_ERROR(impl->ignore_dbs.Add(db, "ignore-schemas"));
  }
  RETURN_IF_ERROR(AddTables(rules.ignore_tables, "replicate-ignore-table", &impl->ignore_tables));
  impl->cached = impl->do_dbs.has_regex() || impl->ignore_dbs.has_regex() ||
                 AnyHasRegex(impl->do_tables) || AnyHasRegex(impl->ignore_tables);
  return Filter(std::move(impl));
}

Filter::Filter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Filter::Filter(Filter&&) noexcept = default;
Filter& Filter::operator=(Filter&&) noexcept = default;
Filter::~Filter() = default;

bool Filter::Accepts(std::string_view db, std::string_view table) const {
  return impl_->Accepts(db, table);
}

bool Filter::AcceptsDdl(const DdlTarget& target) const {
  if (target.database_level) return impl_->AcceptsDatabase(target.schema);
  if (!Accepts(target.schema, target.table)) return false;
  for (const TableRule& t : target.tables) {
    if (!Accepts(t.db, t.table)) return false;
  }
  for (const auto& [from, to] : target.renames) {
    if (!Accepts(from.db, from.table) || !Accepts(to.db, to.table)) return false;
  }
  return true;
}

bool Filter::empty() const { return impl_->empty(); }

bool Filter::Keep(pb::Binlog* b) const {
  if (!b->ddl_query().empty() && !empty()) {
    Result<DdlTarget> target = ParseDdlTarget(b->ddl_query(), b->ddl_schema());
    if (!target.ok()) {
      // A shape the parser does not know (a view, a user, a grant) goes by the database it ran
      // in, as a native replica's replicate-do-db treats a statement: with a do-list, one run
      // outside every database is not applied.
      DdlTarget by_database;
      by_database.schema = b->ddl_schema();
      by_database.database_level = true;
      target = std::move(by_database);
    }
    if (!AcceptsDdl(*target)) b->clear_ddl_query();
  }
  if (!empty()) {
    auto* tables = b->mutable_tables();
    for (int i = tables->size() - 1; i >= 0; --i) {
      const pb::TableChanges& t = tables->Get(i);
      if (!Accepts(t.schema_name(), t.table_name())) tables->DeleteSubrange(i, 1);
    }
  }
  return !b->ddl_query().empty() || b->tables_size() > 0;
}

}  // namespace binlog::replay
