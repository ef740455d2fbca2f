// The GC deleting many small segments.
//
//   gc_delete_segments_per_s  segments deleted per second by gc::CollectGarbage (list, read each
//       footer, unlink, one directory sync) over 10,000 sealed segments of one ~1 KiB record,
//       every one past the retention but the newest, which it keeps. Warm page cache.
//       Baseline: `find DIR -name 'binlog-*' ! -name NEWEST -delete` (the process included) on
//       an identical copy of the same files, deleting the same 9,999, in the same run. The
//       median of five rounds of each, each round on fresh copies, the two taking turns going
//       first. stderr also shows the GC's dry run alone (its reading of every footer).
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "bench_util.h"
#include "gc/gc.h"
#include "journal/journal.h"

namespace binlog::bench {
namespace {

constexpr int kSegments = 10000;
constexpr int kRounds = 5;

// kSegments sealed segments of one record each, ts of 2024: far past a 1d retention.
void BuildSegments(const std::string& dir) {
  journal::JournalOptions o;
  o.env = NoSyncEnv();  // the fixture's durability is not what is measured
  auto j = Check(journal::Journal::Open(dir, o), "open journal");
  PayloadGenerator gen(3);
  for (int i = 0; i < kSegments; ++i) {
    const uint64_t ts = RecordTS(static_cast<uint64_t>(i));
    const std::string payload = gen.Next(ts);
    Check(j->Append(journal::Record{ts, payload}), "append");
    Check(j->Rotate(), "rotate");
  }
  Check(j->Close(), "close journal");
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

void DeleteSegments() {
  if (!Wanted({"gc_delete_segments_per_s"})) return;
  const std::string root = FreshDir("gc");
  const std::string master = root + "/master";
  double start = NowSeconds();
  BuildSegments(master);
  ::sync();
  auto segments = Check(journal::ListSegments(Env::Posix(), master), "list");
  const std::string newest = segments.back().name;
  std::cerr << "gc fixture: " << segments.size() << " segments, " << DirBytes(master)
            << " bytes, built in " << NowSeconds() - start << " s\n";

  std::vector<double> gc_rate, find_rate;
  for (int round = 0; round < kRounds; ++round) {
    const std::string a = root + "/gc", b = root + "/find";
    RemoveAll(a);
    RemoveAll(b);
    if (Shell("cp -a " + master + " " + a + " && cp -a " + master + " " + b) != 0) {
      Check(Status::IOError("copying the fixture failed"), "copy");
    }
    ::sync();

    gc::Options o;
    o.retention_seconds = 86400;
    o.dry_run = true;
    start = NowSeconds();
    Check(gc::CollectGarbage(a, o), "gc dry run");
    const double plan_s = NowSeconds() - start;
    o.dry_run = false;
    double gc_s = 0, find_s = 0;
    size_t deleted = 0;
    auto run_gc = [&] {
      start = NowSeconds();
      gc::Report report = Check(gc::CollectGarbage(a, o), "gc");
      gc_s = NowSeconds() - start;
      deleted = report.deleted.size();
    };
    auto run_find = [&] {
      start = NowSeconds();
      if (Shell("find " + b + " -name 'binlog-*' ! -name " + newest + " -delete") != 0) {
        Check(Status::IOError("find -delete failed"), "find");
      }
      find_s = NowSeconds() - start;
    };
    if (round % 2 == 0) {
      run_gc();
      run_find();
    } else {
      run_find();
      run_gc();
    }
    if (deleted != segments.size() - 1) {
      Check(Status::Aborted("the GC did not delete every segment but the newest"), "gc");
    }
    auto left = Check(journal::ListSegments(Env::Posix(), b), "list");
    if (left.size() != 1) Check(Status::Aborted("find left more than the newest"), "find");

    gc_rate.push_back(static_cast<double>(deleted) / gc_s);
    find_rate.push_back(static_cast<double>(deleted) / find_s);
    std::cerr << "gc round " << round << ": gc " << gc_s << " s (its dry run " << plan_s
              << " s), find -delete " << find_s << " s, for " << deleted << " segments\n";
  }
  PrintFigure("gc_delete_segments_per_s", Median(gc_rate), "segments/s", Median(find_rate),
              "segments/s");
  RemoveAll(root);
}

}  // namespace
}  // namespace binlog::bench

int main(int argc, char** argv) {
  binlog::bench::InitBench(&argc, argv);
  binlog::bench::DeleteSegments();
  return 0;
}
