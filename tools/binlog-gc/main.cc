// binlog-gc: retention for a directory of segments, from cron or a systemd timer (docs/GC.md).
//
// Exit codes: 0 done (also when there was nothing to delete, a drainer held segments back, or
// another GC was running); 1 the GC failed (the directory is missing, the registry unreadable,
// a delete failed); 2 bad flags.
#include <signal.h>

#include <exception>
#include <iostream>
#include <memory>

#include "binlog-gc/flags.h"
#include "common/logging.h"
#include "common/text.h"
#include "common/tso.h"
#include "gc/gc.h"
#include "registry/registry.h"

namespace binlog::gctool {
namespace {

constexpr const char* kVersion = "binlog-gc (binlog) " BINLOG_GIT_VERSION;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

std::string Time(uint64_t ts) {
  auto t = FormatTSDatetime(ts);
  return t.ok() ? *t : "?";
}

void Print(const Flags& f, const gc::Report& r) {
  const char* verb = r.dry_run ? "would delete" : "deleted";
  for (const gc::Segment& s : r.deleted) {
    std::cout << verb << " " << s.name << " " << s.bytes << " bytes, last ts " << s.last_ts << " ("
              << Time(s.last_ts) << ")";
    if (s.past_guard && r.guard) {
      std::cout << ", past drainer " << r.guard->node_id << "'s checkpoint " << r.guard->checkpoint
                << (r.low_space ? " (low disk space)" : " (-force)");
    }
    std::cout << "\n";
  }
  std::cout << (r.dry_run ? "would free " : "freed ") << r.bytes_freed << " bytes ("
            << gc::FormatBytes(r.bytes_freed) << ") in " << r.deleted.size() << " segments of "
            << f.data_dir << "; kept " << r.segments_kept << " segments ("
            << gc::FormatBytes(r.bytes_kept) << ")\n";
  std::cout << "held back by " << gc::HeldByName(r.held_by) << ": " << r.held_why << "\n";
}

int Run(const Flags& f) {
  Env* env = Env::Posix();
  std::unique_ptr<registry::Registry> reg;
  if (!f.pd_urls.empty() || !f.registry_dir.empty()) {
    auto opened = registry::OpenRegistry(env, f.pd_urls, f.registry_dir, "the flags");
    if (!opened.ok()) {
      std::cerr << "binlog-gc: " << Printable(opened.status().message(), 4096) << "\n";
      return opened.status().IsInvalidArgument() ? kExitUsage : kExitFailed;
    }
    reg = std::move(*opened);
  } else {
    LOG_INFO("no -pd-urls or -registry-dir: no drainer guard", KV("data-dir", f.data_dir));
  }
  gc::Options o;
  o.env = env;
  o.retention_seconds = f.retention_seconds;
  o.max_size = f.max_size;
  o.dry_run = f.dry_run;
  o.force = f.force;
  o.registry = reg.get();
  o.guard_lease_seconds = f.guard_lease_seconds;
  o.stop_write_at_available_space = f.stop_write_at_available_space;
  Result<gc::Report> report = gc::CollectGarbage(f.data_dir, o);
  if (!report.ok()) {
    LOG_ERROR("binlog-gc failed", KV("data-dir", f.data_dir), KV("error", report.status()));
    std::cerr << "binlog-gc: " << Printable(report.status().message(), 4096) << "\n";
    return kExitFailed;
  }
  if (report->held_by == gc::HeldBy::kNoSegments) {
    const std::string pump_binlog = JoinPath(f.data_dir, "binlog");
    if (env->FileExists(pump_binlog)) {
      std::cerr << "binlog-gc: " << f.data_dir << " holds no segment, but " << pump_binlog
                << " exists: a pump's segments are in its data-dir's binlog/; give -data-dir "
                << pump_binlog << "\n";
      return kExitFailed;
    }
    std::cout << "nothing to delete: " << report->held_why << "\n";
    return 0;
  }
  if (report->held_by == gc::HeldBy::kOtherGc) {
    std::cout << "nothing done: " << report->held_why << "\n";
    return 0;
  }
  Print(f, *report);
  return 0;
}

int Main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  Result<Flags> flags = ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::cerr << "binlog-gc: " << Printable(flags.status().message(), 4096)
              << "\nusage: binlog-gc -data-dir DIR -retention 7d [-max-size 50GiB] [-dry-run] "
                 "[-force]  (binlog-gc -h for all)\n";
    return kExitUsage;
  }
  if (flags->help) {
    std::cout << Usage() << "\n";
    return 0;
  }
  if (flags->version) {
    std::cout << kVersion << "\n";
    return 0;
  }
  LogOptions log;
  log.level = flags->log_level;
  log.file = flags->log_file;
  log.rotate = "none";
  if (Status s = InitLogging(log); !s.ok()) {
    std::cerr << "binlog-gc: " << Printable(s.message(), 4096) << "\n";
    return kExitUsage;
  }
  LOG_INFO("Welcome to binlog-gc", KV("version", kVersion));
  int code = Run(*flags);
  std::cout.flush();
  return code;
}

}  // namespace
}  // namespace binlog::gctool

int main(int argc, char** argv) {
  try {
    return binlog::gctool::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "binlog-gc: unexpected error: " << binlog::Printable(e.what(), 4096) << "\n";
    return 1;
  }
}
