// Pump: what it holds from each upstream server (one-shot COMMITs with a SourcePosition), and
// the refusal of a one-shot commit whose ts is behind. docs/PUMP.md, "Sources".
#include <fmt/format.h>

#include "common/logging.h"
#include "pump/pump.h"

namespace binlog::pump {

namespace {

constexpr const char* kSourcesFile = "sources";

}  // namespace

// REQUIRES: mu_ held. OutOfRange, not InvalidArgument: nothing is wrong with the transaction
// but its ts, which a producer of already-committed transactions (the syncer, whose ts come
// from upstream event times) takes again above max_ts and re-sends.
Status Pump::CheckOneShot(uint64_t commit_ts) const {
  if (commit_ts == 0) return Status::InvalidArgument("commit has no commit_ts");
  Status s = sorter_.CheckCommitted(commit_ts);
  if (s.ok() && sorter_.is_held(commit_ts)) {
    s = Status::InvalidArgument(
        fmt::format("commit_ts {} is being written by another transaction", commit_ts));
  }
  if (s.ok()) return s;
  return Status::OutOfRange(
      fmt::format("{}; the newest ts this pump has seen is {}: send it again above that",
                  s.message(), std::max(sorter_.max_seen(), sorter_.emitted())));
}

SourceState Pump::GetSourceState(uint32_t server_id) const {
  std::lock_guard<std::mutex> g(mu_);
  SourceState st;
  st.max_ts = std::max(sorter_.max_seen(), sorter_.emitted());
  st.held = sources_.Get(server_id);
  if (std::optional<uint64_t> open = sorter_.OpenFrom(server_id)) {
    st.open_commit_ts = *open;
    st.open_parts = sorter_.OpenParts(*open)->received;
  }
  return st;
}

Status Pump::LoadSources() {
  std::string path = JoinPath(data_dir(), kSourcesFile);
  RETURN_IF_ERROR(sources_.Load(options_.env, path));
  sources_saved_version_ = sources_.version();
  return Status::OK();
}

Status Pump::SaveSources() {
  SourceTable copy;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (sources_.version() == sources_saved_version_) return Status::OK();
    copy = sources_;
  }
  // A copy taken now holds at least every record of the segments about to be dropped: they
  // were all applied (and emitted) before the caller chose them.
  RETURN_IF_ERROR(copy.Save(options_.env, JoinPath(data_dir(), kSourcesFile)));
  std::lock_guard<std::mutex> g(mu_);
  sources_saved_version_ = copy.version();
  return Status::OK();
}

}  // namespace binlog::pump
