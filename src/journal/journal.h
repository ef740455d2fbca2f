// A directory of segments: durable appends with group commit, rotation, seek by ts, tailing.
//
// Segment files are named binlog-<ts>-<YYYYMMDDhhmmss>: <ts> is the first record's ts printed
// %016d (a sequence number for arrival-order journals such as a pump's wal/), the datetime is
// the creation time. The name alone orders segments and bounds their ts ranges, so a seek is a
// binary search over names and then over one segment's footer index.
//
// One writer per directory (a LOCK file); any number of readers, in this process or others.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/histogram.h"
#include "common/status.h"
#include "journal/preallocator.h"
#include "segment/segment.h"

namespace binlog::journal {

using segment::Record;

struct SegmentName {
  std::string name;     // file name, e.g. binlog-0422310029132038145-20210118104833
  uint64_t ts = 0;      // first ts (ordered) or sequence number (arrival)
  std::string created;  // YYYYMMDDhhmmss
};

// "binlog-<digits>-<14 digits>"; nullopt for anything else.
std::optional<SegmentName> ParseSegmentName(const std::string& name);
std::string MakeSegmentName(uint64_t ts, int64_t created_micros);

// The lock file a GC holds while it deletes segments of a directory (src/gc, docs/GC.md),
// beside the writer's LOCK, which a GC never takes.
inline constexpr const char* kGcLockName = "GC.LOCK";

// The segments of dir in order. Other files are skipped: LOCK, GC.LOCK and our own leftovers
// (*.broken, *.tmp, *.dropped) and a drainer's savepoint quietly, anything else with a warning
// naming it.
Result<std::vector<SegmentName>> ListSegments(Env* env, const std::string& dir,
                                              bool warn_unknown = true);

// The smallest max_file_size a journal takes (every tool's max-file-size setting): a segment
// smaller than its header, a block and its footer would rotate at every append.
inline constexpr uint64_t kMinMaxFileSize = 4 << 10;

struct JournalOptions {
  Env* env = Env::Posix();
  segment::SegmentOptions segment;
  uint64_t max_file_size = 512ull << 20;  // rotate once a segment reaches this size (>= 4 KiB)
  // false: Append returns once the bytes are written, before fdatasync (sync-log = false).
  bool sync = true;
  // With sync = false: warn that acknowledged appends can be lost. Off for an owner that makes
  // them durable itself (Sync) before it relies on them.
  bool warn_unsynced = true;
  // Keep a damaged active segment as <name>.broken and go on with its good blocks, instead of
  // refusing to open.
  bool salvage = false;
  // Upper bound of bytes one group commit writes at once.
  size_t max_group_bytes = 4 << 20;
  // Zeros written ahead of the active segment's data, this many bytes at a time (0: none), so
  // that its fdatasyncs need no file system metadata (see Preallocator). Costs a second write
  // of every byte of the journal.
  uint64_t preallocate_bytes = 0;
};

struct JournalStats {
  uint64_t appends = 0;  // Append calls acknowledged
  uint64_t records = 0;
  uint64_t groups = 0;  // write+sync rounds (appends / groups = average group size)
  uint64_t syncs = 0;
  uint64_t segments_created = 0;
  uint64_t bytes_preallocated = 0;  // zeros written ahead of the data
  LatencyHistogram sync_latency;    // of every fdatasync of the active segment
};

class Journal {
 public:
  // Opens (creating if needed) the journal in dir: takes the lock, seals earlier segments left
  // unsealed by a crash, and recovers the active one (a torn tail is cut and logged; damage with
  // good data after it is a Corruption error naming file and offset unless options.salvage). A
  // newest segment a crash left without any record is removed: its name may be a ts that was
  // never acknowledged. A file named like a segment that is not one is an error naming it. A
  // segment that is not the newest and vanishes while it is opened was deleted by a GC in
  // another process (docs/GC.md): passed over.
  static Result<std::unique_ptr<Journal>> Open(const std::string& dir,
                                               const JournalOptions& options);
  ~Journal();
  Journal(const Journal&) = delete;
  Journal& operator=(const Journal&) = delete;

  // Appends records and returns once they are durable (with options.sync). Thread-safe:
  // concurrent callers are written and synced together, one fdatasync per group. In an ordered
  // journal each record's ts must be greater than every ts appended before, except the parts of
  // a transaction (docs/FORMAT.md), which share one ts and come in order, nothing between them
  // (InvalidArgument otherwise, and nothing of the call is written). A segment never rotates
  // inside a transaction; one that a crash left open is cut by the next Open. After a failed write
  // or sync every later call fails with the first error: nothing written after a failed fdatasync
  // can be trusted.
  Status Append(std::span<const Record> records) { return Append(records, nullptr); }
  Status Append(const Record& record) { return Append(std::span<const Record>(&record, 1)); }
  // As above; *segment_ts receives the name ts (or sequence) of the segment the records are in.
  Status Append(std::span<const Record> records, uint64_t* segment_ts);

  // What Write hands back: where the records went, and what WaitDurable needs.
  struct WriteTicket {
    uint64_t group = 0;       // the write group's sequence number
    uint64_t segment_ts = 0;  // as Append's segment_ts
  };
  // Append in two halves, for a caller that prepares its next write while this one syncs (the
  // pump's writer): Write returns once the records are written, not yet durable; WaitDurable
  // returns once they are (one fdatasync covers every write before it, so it may find the work
  // done). A record's ts order and the error rules are Append's. REQUIRES for WaitDurable: a
  // ticket of a Write that succeeded.
  Status Write(std::span<const Record> records, WriteTicket* ticket);
  Status WaitDurable(const WriteTicket& ticket);
  // Encodes records as this journal's blocks in the calling thread (thread-safe), so that a
  // caller can compress its write before its turn comes; WriteEncoded then writes blocks of one
  // or more Encode calls, in order, as Write does. `records` is how many they hold (for stats).
  Status Encode(std::span<const Record> records, std::vector<segment::EncodedBlock>* out);
  Status WriteEncoded(std::vector<segment::EncodedBlock> blocks, size_t records,
                      WriteTicket* ticket);

  // Deletes sealed segments (never the active one) for which pred(name, totals) is true, in
  // order, and syncs the directory. Readers holding one open keep reading it. Thread-safe. A
  // segment another process deleted meanwhile is passed over (not counted).
  Result<size_t> RemoveSealedSegments(
      const std::function<bool(const SegmentName&, const segment::Trailer&)>& pred);
  // Bytes in all segments of the directory.
  Result<uint64_t> DiskUsage() const;

  // Seals the active segment; the next append starts a new one.
  Status Rotate();
  // Makes everything appended durable (for sync = false).
  Status Sync();
  // Syncs and releases the directory; the active segment stays unsealed for the next Open.
  Status Close();

  // The name ts of the segment the next append lands in or after (the active segment's, or the
  // next sequence when there is none): a floor for what an append under way may touch.
  uint64_t active_segment_ts() const;
  // The largest ts appended (0 when empty).
  uint64_t last_ts() const;
  const std::string& dir() const { return dir_; }
  JournalStats stats() const;

 private:
  enum class WriterKind { kData, kRotate, kSync, kClose };
  struct Writer;
  // Where the appends of an ordered journal stand, to check the next record: the last ts, and
  // the transaction in parts left open, if any (only its next part may follow).
  struct AppendOrder {
    uint64_t last_ts = 0;
    bool open = false;
    uint32_t next_part = 0;
    static AppendOrder StartingAt(uint64_t ts, segment::PartTag part);
    Status Accept(uint64_t ts, segment::PartTag part);
    // Where the appends stand after `records` (or `blocks`, each checked by its first and last
    // ts, a part by its tag), checked against each other from the first one (which Enqueue
    // checks against what came before); an arrival journal only tracks the largest ts.
    static Result<AppendOrder> Through(std::span<const Record> records, bool ordered);
    static Result<AppendOrder> Through(const std::vector<segment::EncodedBlock>& blocks,
                                       bool ordered);
  };
  struct EncoderPool;
  Journal(std::string dir, const JournalOptions& options);
  Status Recover();
  Status RecoverSegment(const SegmentName& seg, bool is_last);
  Status RemoveSegment(const std::string& path);
  Status Submit(std::span<const Record> records, bool durable, WriteTicket* ticket);
  Status Enqueue(Writer& w, uint64_t first_ts, segment::PartTag first_part, const AppendOrder& end,
                 WriteTicket* ticket);
  Status LeadGroup(Writer* leader, std::unique_lock<std::mutex>& lock);
  Status WriteGroup(std::vector<Writer*>& group, std::unique_lock<std::mutex>& lock);
  Status SyncThrough(uint64_t group);
  Status EnsureActiveSegment(uint64_t first_ts);
  Status AppendRotating(std::span<const segment::EncodedBlock* const> blocks,
                        uint64_t* first_segment);
  Status SealActive();
  bool EndsOpen(const segment::EncodedBlock& block) const;
  Status CloseActive();
  void WaitForSyncs(std::unique_lock<std::mutex>& sync_lock);
  void MarkAllDurable();
  Status RunControl(WriterKind kind);
  Status Fail(Status s);

  std::string dir_;
  JournalOptions options_;
  std::unique_ptr<FileLock> lock_file_;
  std::unique_ptr<EncoderPool> encoders_;
  // Encodes the small appends of a group; only the group's leader touches it.
  std::unique_ptr<segment::BlockEncoder> leader_encoder_;

  // A leader hands the lead on before its fdatasync, so the next group is written while this
  // one syncs, and up to kMaxSyncs syncs of the active segment run at once (SyncThrough). Each
  // runs on a handle of its own: the kernel reports a writeback error once per open file, so
  // two syncs through one handle could see it only once between them. sync_mu_ guards the idle
  // handles, the syncs in flight and the replacement of active_ (sealing waits for the syncs).
  // Taken before mu_, never while holding it.
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::vector<std::unique_ptr<WritableFile>> sync_handles_;  // idle, of the active segment
  std::multiset<uint64_t> syncs_in_flight_;                  // the group each one covers
  mutable std::mutex mu_;
  std::deque<Writer*> queue_;
  Status sticky_;
  AppendOrder enqueued_;  // of every write queued (an arrival journal: the largest ts)
  uint64_t last_written_ts_ = 0;
  uint64_t last_durable_ts_ = 0;
  uint64_t written_group_ = 0;  // sequence of the last group written
  uint64_t durable_group_ = 0;  // every group up to it is durable
  uint64_t next_sequence_ = 1;  // arrival-order journals name segments by sequence
  JournalStats stats_;
  bool closed_ = false;
  // Only the group leader appends to the active segment; a syncing former leader may sync it
  // at the same time (segment::SegmentWriter::SyncFile). Replaced only under sync_mu_.
  std::unique_ptr<segment::SegmentWriter> active_;
  // Writes zeros past active_'s data; told of each new active segment under sync_mu_.
  std::unique_ptr<Preallocator> preallocator_;
  uint64_t active_name_ts_ = 0;
  bool active_ends_open_ = false;  // the active segment ends inside a transaction: no rotation
  uint64_t group_segment_ts_ = 0;  // where the last group written starts (its tickets' segment_ts)
  std::string active_name_;        // guarded by mu_, for RemoveSealedSegments
  std::string write_buffer_;
};

struct DropReport {
  size_t records = 0;                // dropped
  std::vector<std::string> kept_as;  // the files as they were, <segment>.dropped
};
// Drops every record with a ts above `ts` from the ordered journal in dir, which must not be
// open for writing (its lock is taken, and GC.LOCK: not while a GC runs). `check` sees each of
// them first: an error from it changes nothing and is returned. The segments touched are kept
// as <name>.dropped; the one that keeps records up to ts is rewritten unsealed, as the newest
// segment.
Result<DropReport> DropRecordsAfter(Env* env, const std::string& dir, uint64_t ts,
                                    const std::function<Status(const Record&)>& check);

struct ReadOptions {
  uint64_t start_ts = 0;          // first record returned has ts >= start_ts
  uint64_t stop_ts = UINT64_MAX;  // no record with ts > stop_ts is returned
  // Wait for new data at the end instead of ending (Next's timeout applies).
  bool follow = false;
  // The journal's records are in arrival order (a wal): no seek, every segment is read. A wal
  // read without it is refused (InvalidArgument): its names are not ts, a seek would skip.
  bool arrival_order = false;
  // Set: damage is reported here (with the segment's path) and reading goes on at the next good
  // block, instead of a Corruption error.
  std::function<void(const std::string& path, const segment::Damage&)> on_damage;
};

// Reads records of a journal directory in segment order. Not thread-safe, except Wake().
class JournalReader {
 public:
  static Result<std::unique_ptr<JournalReader>> Open(Env* env, const std::string& dir,
                                                     const ReadOptions& options);
  ~JournalReader();
  JournalReader(const JournalReader&) = delete;
  JournalReader& operator=(const JournalReader&) = delete;

  // Sets *out to the next record and returns true. Returns false at the end of the data (or
  // past stop_ts, or after the record at stop_ts in an ordered journal, even when following);
  // in follow mode, it first waits up to `wait` for more, woken by the file system (inotify),
  // never by polling. The record's payload is valid until the next call.
  // A torn tail of a segment that is not the newest one is logged and skipped; damage with good
  // data after it is a Corruption error naming file and offset.
  Result<bool> Next(Record* out, std::chrono::milliseconds wait = std::chrono::milliseconds(0));
  // Makes a Next that is waiting return false at once (for shutdown, from another thread).
  void Wake();

  // The segment being read (empty before the first), and when it was created (its header).
  std::string current_segment() const;
  int64_t current_segment_created_micros() const;

 private:
  struct Tail;
  JournalReader(Env* env, std::string dir, const ReadOptions& options);
  void Seek();
  Result<bool> OpenSegmentAt(size_t index);
  Result<bool> AdvanceSegment();
  Status RefreshList();
  void WatchDamage(const std::string& path);

  Env* env_;
  std::string dir_;
  ReadOptions options_;
  std::vector<SegmentName> segments_;
  size_t current_ = 0;
  bool done_ = false;
  bool final_pass_ = false;  // reading an unsealed segment to its end once, a newer one exists
  std::unique_ptr<segment::SegmentReader> reader_;
  std::unique_ptr<segment::SegmentIterator> iter_;
  std::unique_ptr<Tail> tail_;
};

}  // namespace binlog::journal
